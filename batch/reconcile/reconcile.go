package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	keyspace "github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	speedkeys "github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// Report is one reconciliation's outcome.
type Report struct {
	Version int64 `json:"version"`
	// From and To are the hours compared: [From, To).
	From            int64     `json:"from"`
	To              int64     `json:"to"`
	At              time.Time `json:"at"`
	Buckets         int64     `json:"buckets"`
	CountMismatches int64     `json:"count_mismatches"`
	StatsMismatches int64     `json:"stats_mismatches"`
	MissingInSpeed  int64     `json:"missing_in_speed"`
	ExtraInSpeed    int64     `json:"extra_in_speed"`
	MissingEvents   int64     `json:"missing_events"`
	// QuantileRelErr is the max relative error per percentile name ("p50").
	QuantileRelErr  map[string]float64 `json:"quantile_relative_error"`
	DistinctRelErr  float64            `json:"distinct_relative_error"`
	ExpiredSpeedKey int64              `json:"expired_speed_keys"`
}

// ErrSuperseded is returned when the version to reconcile is no longer current.
var ErrSuperseded = errors.New("version no longer current")

// Run reconciles version (which must be current) over the hours from
// prevBoundary (0: the view's first hour) to its boundary, stores the report
// and expires the speed buckets of those hours after grace.
func Run(ctx context.Context, rdb redis.UniversalClient, keyPrefix string, version, prevBoundary int64, grace time.Duration) (*Report, error) {
	m, err := view.Current(ctx, rdb, keyPrefix)
	if err != nil {
		return nil, err
	}
	if m.Version != version {
		return nil, ErrSuperseded
	}
	if prevBoundary != 0 && prevBoundary >= m.Boundary {
		// No hour is newly covered (new data behind the boundary only):
		// nothing to compare or expire, no need to load the view.
		return saveReport(ctx, rdb, keyPrefix, &Report{Version: version, From: prevBoundary, To: m.Boundary, At: time.Now().UTC(),
			QuantileRelErr: zeroQuantileErrs()})
	}
	v, err := view.LoadManifest(ctx, rdb, m)
	if err != nil {
		return nil, err
	}
	from := prevBoundary
	if from == 0 {
		from = firstHour(v)
	}
	rep := &Report{Version: version, From: from, To: v.Boundary, At: time.Now().UTC(), QuantileRelErr: zeroQuantileErrs()}
	sk := speedkeys.New(keyPrefix)
	reader := store.NewReader(rdb, keyPrefix)
	var expire []string
	for _, def := range flight.Views() {
		speed, err := speedGroups(ctx, rdb, sk, def.Name, from, v.Boundary)
		if err != nil {
			return nil, err
		}
		var refs []store.Ref
		gs, _ := v.Groups(def.Name)
		for _, g := range gs {
			hs, _ := v.Hours(def.Name, g)
			for _, h := range hs {
				if h < from || h >= v.Boundary {
					continue
				}
				rep.Buckets++
				if _, ok := speed[h][g]; ok {
					delete(speed[h], g)
					refs = append(refs, store.Ref{View: def.Name, Group: g, Hour: h})
					continue
				}
				b, _ := v.Stats(def.Name, g, h, h+3600)
				rep.MissingInSpeed++
				rep.CountMismatches++
				rep.MissingEvents += b.Count
			}
		}
		for h, rest := range speed {
			for g := range rest {
				refs = append(refs, store.Ref{View: def.Name, Group: g, Hour: h})
				rep.ExtraInSpeed++
			}
			expire = append(expire, sk.Groups(def.Name, h))
		}
		for lo := 0; lo < len(refs); lo += 2000 {
			chunk := refs[lo:min(lo+2000, len(refs))]
			sbs, err := reader.Buckets(ctx, chunk)
			if err != nil {
				return nil, err
			}
			for i, sb := range sbs {
				ref := chunk[i]
				expire = append(expire, sk.Bucket(ref.View, ref.Group, ref.Hour))
				if def.DistinctDestinations {
					expire = append(expire, sk.Distinct(ref.View, ref.Group, ref.Hour))
				}
				b, _ := v.Bucket(ref.View, ref.Group, ref.Hour)
				compare(rep, &b, &sb)
			}
		}
	}
	rep.ExpiredSpeedKey = int64(len(expire))
	for lo := 0; lo < len(expire); lo += 5000 {
		pipe := rdb.Pipeline()
		for _, k := range expire[lo:min(lo+5000, len(expire))] {
			pipe.PExpire(ctx, k, grace)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("expire speed buckets: %w", err)
		}
	}
	return saveReport(ctx, rdb, keyPrefix, rep)
}

func zeroQuantileErrs() map[string]float64 {
	m := map[string]float64{}
	for _, q := range flight.Percentiles() {
		m[flight.PercentileName(q)] = 0
	}
	return m
}

// saveReport records rep as the last reconciliation.
func saveReport(ctx context.Context, rdb redis.UniversalClient, keyPrefix string, rep *Report) (*Report, error) {
	js, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if err := rdb.Set(ctx, keyspace.New(keyPrefix).Reconcile(), js, 0).Err(); err != nil {
		return nil, fmt.Errorf("store reconciliation: %w", err)
	}
	return rep, nil
}

func compare(rep *Report, b *view.Aggregate, sb *store.Bucket) {
	if b.Count != sb.Count {
		rep.CountMismatches++
		rep.MissingEvents += b.Count - sb.Count
		return
	}
	if b.Sum != sb.Sum || b.Delayed != sb.Delayed || b.Min != sb.Min || b.Max != sb.Max {
		rep.StatsMismatches++
	}
	exact, ok := b.Quantiles()
	if ok && len(sb.Quantiles) == len(exact) {
		for i, q := range sb.Quantiles {
			e := float64(exact[i])
			rel := math.Abs(q.Value-e) / math.Max(math.Abs(e), 1)
			if rel > rep.QuantileRelErr[q.Name] {
				rep.QuantileRelErr[q.Name] = rel
			}
		}
	}
	if d := b.Distinct(); d > 0 && sb.Distinct >= 0 {
		if rel := math.Abs(float64(sb.Distinct-d)) / float64(d); rel > rep.DistinctRelErr {
			rep.DistinctRelErr = rel
		}
	}
}

func firstHour(v *view.View) int64 {
	first := v.Boundary
	for _, name := range v.Views() {
		gs, _ := v.Groups(name)
		for _, g := range gs {
			if hs, _ := v.Hours(name, g); len(hs) > 0 && hs[0] < first {
				first = hs[0]
			}
		}
	}
	return first
}

// speedGroups returns, per hour of [from, to), the groups that the speed layer has.
func speedGroups(ctx context.Context, rdb redis.Cmdable, sk speedkeys.Keys, view string, from, to int64) (map[int64]map[string]struct{}, error) {
	out := map[int64]map[string]struct{}{}
	var hours []int64
	for h := from; h < to; h += 3600 {
		hours = append(hours, h)
	}
	for lo := 0; lo < len(hours); lo += 1000 {
		chunk := hours[lo:min(lo+1000, len(hours))]
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(chunk))
		for i, h := range chunk {
			cmds[i] = pipe.SMembers(ctx, sk.Groups(view, h))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("speed groups: %w", err)
		}
		for i, c := range cmds {
			if gs := c.Val(); len(gs) > 0 {
				m := make(map[string]struct{}, len(gs))
				for _, g := range gs {
					m[g] = struct{}{}
				}
				out[chunk[i]] = m
			}
		}
	}
	return out, nil
}

// Last returns the last stored report (nil if none).
func Last(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (*Report, error) {
	b, err := rdb.Get(ctx, keyspace.New(keyPrefix).Reconcile()).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reconciliation report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reconciliation report: %w", err)
	}
	return &r, nil
}

// Collector exports the last report and the current version as gauges, read
// from Redis at every scrape, so that any process can export them.
type Collector struct {
	rdb       redis.Cmdable
	keyPrefix string
	descs     map[string]*prometheus.Desc
}

// NewCollector returns a collector of the reports under keyPrefix.
func NewCollector(rdb redis.Cmdable, keyPrefix string) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tributary_batch_"+name, help, labels, nil)
	}
	return &Collector{rdb: rdb, keyPrefix: keyPrefix, descs: map[string]*prometheus.Desc{
		"count":    d("reconcile_count_mismatches", "Buckets whose count differs between the speed and batch views (must be 0 but for late events)."),
		"missing":  d("reconcile_missing_events", "Events in the batch view that the speed view lacks (late events refused by the speed layer)."),
		"stats":    d("reconcile_stats_mismatches", "Buckets whose sum, delayed, min or max differ while the count agrees."),
		"buckets":  d("reconcile_buckets", "Buckets compared by the last reconciliation."),
		"quantile": d("reconcile_quantile_relative_error", "Max relative error of a speed-layer percentile against the exact one.", "quantile"),
		"distinct": d("reconcile_distinct_relative_error", "Max relative error of the speed layer's distinct destinations."),
		"rversion": d("reconcile_version", "Version of the batch view that the last reconciliation compared."),
		"version":  d("current_version", "Version of the current batch view."),
		"boundary": d("boundary_seconds", "Time boundary of the current batch view (Unix seconds)."),
		"events":   d("current_events", "Events in the segments of the current batch view."),
	}}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g := func(k string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v, labels...)
	}
	if m, err := view.Current(ctx, c.rdb, c.keyPrefix); err == nil {
		g("version", float64(m.Version))
		g("boundary", float64(m.Boundary))
		g("events", float64(m.Events))
	}
	r, err := Last(ctx, c.rdb, c.keyPrefix)
	if err != nil || r == nil {
		return
	}
	g("count", float64(r.CountMismatches))
	g("missing", float64(r.MissingEvents))
	g("stats", float64(r.StatsMismatches))
	g("buckets", float64(r.Buckets))
	g("distinct", r.DistinctRelErr)
	g("rversion", float64(r.Version))
	for q, e := range r.QuantileRelErr {
		g("quantile", e, q)
	}
}
