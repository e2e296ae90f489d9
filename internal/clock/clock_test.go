package clock_test

import (
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/clock"
)

func TestManualTicker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := clock.NewManual(t0)
	tk := m.NewTicker(time.Second)
	fired := func() bool {
		select {
		case <-tk.C():
			return true
		default:
			return false
		}
	}
	for _, step := range []struct {
		advance time.Duration
		fires   bool
	}{{500 * time.Millisecond, false}, {500 * time.Millisecond, true}, {999 * time.Millisecond, false}, {time.Millisecond, true}, {5 * time.Second, true}, {0, false}} {
		m.Advance(step.advance)
		if got := fired(); got != step.fires {
			t.Fatalf("after advancing %v (now %v): fired %v, want %v", step.advance, m.Now().Sub(t0), got, step.fires)
		}
	}
	tk.Stop()
	if m.Tickers() != 0 {
		t.Fatal("a stopped ticker is still live")
	}
	m.Advance(time.Hour)
	if fired() {
		t.Fatal("a stopped ticker fired")
	}
}
