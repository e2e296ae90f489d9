package autoscale

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	p := Policy{Min: 1, Max: 4, Target: 100, DownBelow: 0.5, DownAfter: 30 * time.Second, Cooldown: 20 * time.Second, MaxStep: 2}
	// hist builds samples one every 10 s ending at now (seconds), with the loads given.
	hist := func(now int, loads ...float64) []Sample {
		h := make([]Sample, len(loads))
		for i, l := range loads {
			h[i] = Sample{At: at(now - 10*(len(loads)-1-i)), Load: l}
		}
		return h
	}
	tests := []struct {
		name   string
		p      Policy
		s      State
		want   int
		reason string
	}{
		{"no data holds", p, State{Now: at(100), Current: 2}, 2, "no-data"},
		{"under min goes back to min at once", p, State{Now: at(100), Current: 0, LastResize: at(99)}, 1, "bounds"},
		{"over max goes back to max", p, State{Now: at(100), Current: 7, History: hist(100, 0)}, 4, "bounds"},
		{"lag of 250 at 100 per worker wants 3", p, State{Now: at(100), Current: 1, History: hist(100, 250)}, 3, "up"},
		{"growth bounded by the step", p, State{Now: at(100), Current: 1, History: hist(100, 1000)}, 3, "up"},
		{"growth bounded by max", p, State{Now: at(100), Current: 3, History: hist(100, 100000)}, 4, "up"},
		{"cooldown holds a growth", p, State{Now: at(100), Current: 1, History: hist(100, 1000), LastResize: at(85)}, 1, "cooldown"},
		{"cooldown over: grows", p, State{Now: at(100), Current: 1, History: hist(100, 1000), LastResize: at(80)}, 3, "up"},
		{"load fits: holds", p, State{Now: at(100), Current: 2, History: hist(100, 150, 150, 150, 150)}, 2, "hold"},
		// 2 workers, one less would carry 1*100*0.5 = 50: all samples <= 50 over 30 s.
		{"low for the whole window: shrinks by one", p, State{Now: at(100), Current: 3, History: hist(100, 40, 40, 40, 40)}, 2, "down"},
		{"hysteresis: 60 > 50 keeps 2 workers although 1 would carry it", p, State{Now: at(100), Current: 2, History: hist(100, 60, 60, 60, 60)}, 2, "hold"},
		{"one high sample in the window holds", p, State{Now: at(100), Current: 3, History: hist(100, 10, 10, 120, 10)}, 3, "hold"},
		{"a high sample before the window does not", p, State{Now: at(100), Current: 3, History: hist(100, 500, 10, 10, 10, 10)}, 2, "down"},
		{"history shorter than the window holds", p, State{Now: at(100), Current: 3, History: hist(100, 0, 0)}, 3, "hold"},
		{"at min: holds", p, State{Now: at(100), Current: 1, History: hist(100, 0, 0, 0, 0)}, 1, "hold"},
		{"min 0: an idle pool goes to 0", Policy{Min: 0, Max: 4, Target: 8, DownBelow: 0.5, DownAfter: 30 * time.Second},
			State{Now: at(100), Current: 1, History: hist(100, 0, 0, 0, 0)}, 0, "down"},
		{"min 0: a task wakes the pool", Policy{Min: 0, Max: 4, Target: 8, DownBelow: 0.5},
			State{Now: at(100), Current: 0, History: hist(100, 1)}, 1, "up"},
		{"cooldown holds a shrink", p, State{Now: at(100), Current: 3, History: hist(100, 0, 0, 0, 0), LastResize: at(90)}, 3, "cooldown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatal(err)
			}
			d := Decide(tc.p, tc.s)
			if d.Desired != tc.want || d.Reason != tc.reason {
				t.Fatalf("Decide = %d (%s), want %d (%s)", d.Desired, d.Reason, tc.want, tc.reason)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []Policy{
		{Min: 2, Max: 1, Target: 1, DownBelow: 0.5},
		{Min: 0, Max: 0, Target: 1, DownBelow: 0.5},
		{Min: 1, Max: 2, Target: 0, DownBelow: 0.5},
		{Min: 1, Max: 2, Target: 1, DownBelow: 1},
		{Min: 1, Max: 2, Target: 1, DownBelow: 0.5, Cooldown: -1},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: accepted", p)
		}
	}
}

func TestLag(t *testing.T) {
	// ends 10, 0, 5; offsets 9 (all applied), -1 (empty, nothing), 1 (3 left); a 4th partition with no offset yet.
	if got := Lag([]int64{10, 0, 5, 7}, []int64{9, -1, 1}); got != 0+0+3+7 {
		t.Fatalf("Lag = %d, want 10", got)
	}
}
