package reconcile

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/speed/store/storetest"
)

// startAfter is a speed reader that tells the prefetch its first hour once
// it has read the digests calls times (the view's load ending then), and
// records the lowest hour it was asked for.
type startAfter struct {
	SpeedReader
	calls  int64
	n      atomic.Int64
	once   sync.Once
	p      *speedDigests
	from   int64
	mu     sync.Mutex
	lowest int64
}

func (s *startAfter) HourDigests(ctx context.Context, view string, from, to int64) ([]flight.HourDigest, error) {
	s.mu.Lock()
	s.lowest = min(s.lowest, from)
	s.mu.Unlock()
	ds, err := s.SpeedReader.HourDigests(ctx, view, from, to)
	if s.n.Add(1) == s.calls {
		s.once.Do(func() { s.p.start(s.from) })
	}
	return ds, err
}

// TestPrefetchReadsTheRangeWhateverTheLoadTakes: the speed digests read
// while the view loads are those of [from, boundary) exactly, whether the
// first hour is known before any read, after one, or only once the readers
// have walked below it and stopped on empty hours (the hours read below
// it are dropped).
func TestPrefetchReadsTheRangeWhateverTheLoadTakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	const h0 = 978307200 // 2001-01-01
	// Speed buckets in the hours [600, 700) after h0 only; the boundary at
	// hour 1000: the readers find hours [744, 1000) empty, [488, 744) not,
	// then [232, 488) and [-24, 232) empty, and wait.
	from, boundary := int64(h0+600*3600), int64(h0+1000*3600)
	var evs []flight.Event
	for i := range 500 {
		evs = append(evs, flight.Event{ID: "x", Producer: "p", Distance: 1, Time: (from + int64(i)*719) * 1e6,
			Origin: []string{"ATL", "BOS", "DEN"}[i%3], Destination: []string{"JFK", "SEA"}[i%2], Delay: int32(i%90 - 20)})
	}
	const partitions = 2
	storetest.Flush(t, rdb, prefix, partitions, evs)
	reader := store.NewReader(rdb, prefix, partitions)
	nh := int((boundary - from) / 3600)
	for _, tc := range []struct {
		name  string
		calls int64 // the reads after which the first hour is known; 0: before any
		// below: whether the readers read below the first hour (nil: it
		// depends on how the readers' goroutines interleave)
		below *bool
	}{
		{name: "known before any read", calls: 0, below: new(bool)},
		{name: "known after one read", calls: 1},
		// 4 reads each, the last two of empty hours, then both wait
		{name: "known once both readers wait on empty hours", calls: 8, below: func() *bool { b := true; return &b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			sa := &startAfter{SpeedReader: reader, calls: tc.calls, from: from, lowest: boundary}
			p := prefetchSpeedWith(ctx, sa, boundary, func(p *speedDigests) {
				sa.p = p
				if tc.calls == 0 {
					p.start(from)
				}
			})
			for i, def := range flight.Views() {
				got, err := p.wait(i, nh)
				if err != nil {
					t.Fatal(err)
				}
				want, err := reader.HourDigests(ctx, def.Name, from, boundary)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: the prefetched digests differ from a read of [from, boundary)", def.Name)
				}
				present := 0
				for _, d := range got {
					if d.Present {
						present++
					}
				}
				if present == 0 {
					t.Fatalf("%s: no speed hour: the case tests nothing", def.Name)
				}
			}
			if below := sa.lowest < from; tc.below != nil && below != *tc.below {
				t.Fatalf("read from hour %d (first hour %d): below it %v, want %v", sa.lowest, from, below, *tc.below)
			}
		})
	}
}
