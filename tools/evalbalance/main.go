package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/internal/membership"
)

func main() {
	data := flag.String("data", "data/flights-3m.parquet", "the flights data set")
	limit := flag.Int64("limit", 0, "count only the first N rows (0: all)")
	hot := flag.Float64("hot-share", 0.3, "share of all events the synthetic hot airport carries")
	flag.Parse()
	if err := run(context.Background(), *data, *limit, *hot); err != nil {
		fmt.Fprintln(os.Stderr, "evalbalance:", err)
		os.Exit(1)
	}
}

// Jain is Jain's fairness index of xs: 1 when all are equal, 1/n when one
// carries everything.
func Jain(xs []float64) float64 {
	var s, s2 float64
	for _, x := range xs {
		s += x
		s2 += x * x
	}
	if s2 == 0 {
		return 1
	}
	return s * s / (float64(len(xs)) * s2)
}

type cell struct {
	Partitions     int       `json:"partitions"`
	Workers        int       `json:"workers"`
	PartsPerWorker []int     `json:"partitions_per_worker"`
	EventShare     []float64 `json:"event_share_per_worker"`
	Jain           float64   `json:"jain_index"`
	MaxShare       float64   `json:"max_worker_share"`
	HotPartShare   float64   `json:"largest_partition_share"`
	// SpeedupBound is 1/MaxShare: the most the pool can go faster than one
	// worker when a worker's throughput is the limit.
	SpeedupBound float64 `json:"speedup_bound"`
}

type scenario struct {
	Name    string         `json:"name"`
	Events  int64          `json:"events"`
	TopAirs []airportShare `json:"top_airports"`
	Cells   []cell         `json:"cells"`
}

type airportShare struct {
	Airport string  `json:"airport"`
	Share   float64 `json:"share"`
}

func run(ctx context.Context, path string, limit int64, hot float64) error {
	f, err := dataset.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	to := int64(-1)
	if limit > 0 {
		to = limit
	}
	byOrigin := map[string]int64{}
	gaps := newGapTracker(gapPartitions)
	if err := f.Scan(ctx, 0, to, func(b *dataset.Batch) error {
		for i := range b.Events {
			byOrigin[b.Events[i].Origin]++
			gaps.add(b.Events[i].Origin, b.Events[i].Time)
		}
		return nil
	}); err != nil {
		return err
	}
	// The synthetic hot airport: the busiest origin made to carry hot of
	// all events, the others unchanged.
	var total int64
	busiest, most := "", int64(0)
	for a, n := range byOrigin {
		total += n
		if n > most || (n == most && a < busiest) {
			busiest, most = a, n
		}
	}
	hotMap := map[string]int64{}
	for a, n := range byOrigin {
		hotMap[a] = n
	}
	rest := total - most
	hotMap[busiest] = int64(hot / (1 - hot) * float64(rest))
	out := struct {
		Command   string     `json:"command"`
		Data      string     `json:"data"`
		Scenarios []scenario `json:"scenarios"`
		// Gaps: per P, the largest event-time gap between consecutive
		// events of one partition, which the speed layer's --max-future
		// bound must exceed (data set sorted by time, as replay sends it).
		Gaps []gapCell `json:"event_time_gaps"`
	}{Command: "go run ./tools/evalbalance -data " + path + " -hot-share " + strconv.FormatFloat(hot, 'g', -1, 64), Data: path}
	out.Scenarios = append(out.Scenarios, analyse("real skew", byOrigin), analyse(fmt.Sprintf("synthetic hot airport: %s carries %.0f%%", busiest, hot*100), hotMap))
	out.Gaps = gaps.cells(defaultMaxFuture)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

func analyse(name string, byOrigin map[string]int64) scenario {
	var total int64
	airs := make([]airportShare, 0, len(byOrigin))
	for a, n := range byOrigin {
		total += n
		airs = append(airs, airportShare{Airport: a, Share: float64(n)})
	}
	sort.Slice(airs, func(i, j int) bool {
		return airs[i].Share > airs[j].Share || (airs[i].Share == airs[j].Share && airs[i].Airport < airs[j].Airport)
	})
	for i := range airs {
		airs[i].Share = round(airs[i].Share / float64(total))
	}
	sc := scenario{Name: name, Events: total, TopAirs: airs[:min(5, len(airs))]}
	for _, parts := range []int{4, 8, 16, 32} {
		perPart := make([]float64, parts)
		for a, n := range byOrigin {
			perPart[flight.Partition(a, parts)] += float64(n)
		}
		for _, w := range []int{1, 2, 3, 4, 8} {
			if w > parts {
				continue
			}
			members := make([]string, w)
			for i := range members {
				members[i] = "speed" + strconv.Itoa(i+1)
			}
			slices.Sort(members)
			owner := membership.Assign(members, parts)
			idx := map[string]int{}
			for i, m := range members {
				idx[m] = i
			}
			share := make([]float64, w)
			np := make([]int, w)
			for p, m := range owner {
				share[idx[m]] += perPart[p] / float64(total)
				np[idx[m]]++
			}
			c := cell{Partitions: parts, Workers: w, PartsPerWorker: np, Jain: round(Jain(share)), MaxShare: round(slices.Max(share)),
				HotPartShare: round(slices.Max(perPart) / float64(total))}
			for _, s := range share {
				c.EventShare = append(c.EventShare, round(s))
			}
			c.SpeedupBound = round(1 / c.MaxShare)
			sc.Cells = append(sc.Cells, c)
		}
	}
	return sc
}

func round(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

// gapPartitions are the partition counts whose event-time gaps are measured.
var gapPartitions = []int{4, 8, 16, 32}

// defaultMaxFuture mirrors speed.DefaultMaxFuture (6 h): gaps longer than it
// make the speed layer quarantine a partition's next event as "future".
const defaultMaxFuture = 6 * time.Hour

// gapTracker follows, for each partition count, the last event time of each
// partition and the largest gap seen; events must come in time order.
type gapTracker struct {
	parts []int
	last  [][]int64 // [count][partition] last event time (µs), 0: none yet
	worst [][]int64 // [count][partition] largest gap (µs)
}

func newGapTracker(parts []int) *gapTracker {
	g := &gapTracker{parts: parts}
	for _, p := range parts {
		g.last = append(g.last, make([]int64, p))
		g.worst = append(g.worst, make([]int64, p))
	}
	return g
}

func (g *gapTracker) add(origin string, t int64) {
	for i, p := range g.parts {
		k := flight.Partition(origin, p)
		if prev := g.last[i][k]; prev != 0 && t-prev > g.worst[i][k] {
			g.worst[i][k] = t - prev
		}
		g.last[i][k] = t
	}
}

type gapCell struct {
	Partitions int `json:"partitions"`
	// LargestGapHours is the largest gap over all partitions; OverBound the
	// partitions with a gap over the bound.
	LargestGapHours float64 `json:"largest_gap_hours"`
	OverBound       int     `json:"partitions_with_gap_over_max_future"`
	MaxFutureHours  float64 `json:"max_future_hours"`
}

func (g *gapTracker) cells(bound time.Duration) []gapCell {
	var out []gapCell
	for i, p := range g.parts {
		c := gapCell{Partitions: p, MaxFutureHours: bound.Hours()}
		for _, w := range g.worst[i] {
			c.LargestGapHours = max(c.LargestGapHours, round(float64(w)/float64(time.Hour.Microseconds())))
			if time.Duration(w)*time.Microsecond > bound {
				c.OverBound++
			}
		}
		out = append(out, c)
	}
	return out
}
