package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is a time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Manual is a clock that moves only when Advance is called. Safe for
// concurrent use.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
}

// NewManual returns a manual clock reading now.
func NewManual(now time.Time) *Manual { return &Manual{now: now} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTicker returns a ticker that fires when Advance passes its next tick.
func (m *Manual) NewTicker(d time.Duration) Ticker {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTicker{c: make(chan time.Time, 1), period: d, next: m.now.Add(d), m: m}
	m.tickers = append(m.tickers, t)
	return t
}

// Tickers is the number of live tickers: a test waits for a loop to have
// made its ticker before advancing.
func (m *Manual) Tickers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tickers)
}

// Advance moves the clock by d and fires every ticker whose next tick is
// passed. Like time.Ticker, a ticker whose reader lags drops ticks.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	for _, t := range m.tickers {
		if t.next.After(m.now) {
			continue
		}
		for !t.next.After(m.now) {
			t.next = t.next.Add(t.period)
		}
		select {
		case t.c <- m.now:
		default:
		}
	}
}

type manualTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Time
	m      *Manual
}

func (t *manualTicker) C() <-chan time.Time { return t.c }

func (t *manualTicker) Stop() {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	for i, o := range t.m.tickers {
		if o == t {
			t.m.tickers = append(t.m.tickers[:i], t.m.tickers[i+1:]...)
			return
		}
	}
}
