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

// SpeedReader reads the speed layer's views (speed/store.Reader implements it).
type SpeedReader interface {
	// GroupsByHour returns, for every hour of [from, to) in which the view
	// has buckets, the groups that have one.
	GroupsByHour(ctx context.Context, view string, from, to int64) (map[int64][]string, error)
	// Buckets reads the buckets of refs, in their order.
	Buckets(ctx context.Context, refs []flight.BucketRef) ([]flight.Summary, error)
}

// SpeedExpirer expires the speed layer's keys of hours the batch view now
// covers (speed/store.Expirer implements it). Both return the number of keys
// given a TTL.
type SpeedExpirer interface {
	ExpireBuckets(ctx context.Context, refs []flight.BucketRef, grace time.Duration) (int64, error)
	ExpireGroups(ctx context.Context, view string, hours []int64, grace time.Duration) (int64, error)
}

// Config is one reconciliation.
type Config struct {
	Redis     redis.UniversalClient
	KeyPrefix string
	Speed     SpeedReader
	Expirer   SpeedExpirer
	// Version must be the current batch view's; PrevBoundary is the previous
	// version's boundary (0: compare from the view's first hour).
	Version, PrevBoundary int64
	// Grace is the TTL given to the speed keys of the compared hours.
	Grace time.Duration
}

// bucketsChunk bounds the speed buckets read at once.
const bucketsChunk = 2000

// Run reconciles cfg.Version (which must be current) over the hours from
// cfg.PrevBoundary (0: the view's first hour) to its boundary, stores the
// report and expires the speed buckets of those hours after cfg.Grace.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Redis == nil || cfg.Speed == nil || cfg.Expirer == nil || cfg.KeyPrefix == "" {
		return nil, errors.New("reconcile: Redis, KeyPrefix, Speed and Expirer are required")
	}
	m, err := view.Current(ctx, cfg.Redis, cfg.KeyPrefix)
	if err != nil {
		return nil, err
	}
	if m.Version != cfg.Version {
		return nil, ErrSuperseded
	}
	if cfg.PrevBoundary != 0 && cfg.PrevBoundary >= m.Boundary {
		// No hour is newly covered (new data behind the boundary only):
		// nothing to compare or expire, no need to load the view.
		return saveReport(ctx, cfg.Redis, cfg.KeyPrefix, &Report{Version: cfg.Version, From: cfg.PrevBoundary, To: m.Boundary, At: time.Now().UTC(),
			QuantileRelErr: zeroQuantileErrs()})
	}
	v, err := view.LoadManifest(ctx, cfg.Redis, m)
	if err != nil {
		return nil, err
	}
	from := cfg.PrevBoundary
	if from == 0 {
		from = firstHour(v)
	}
	rep := &Report{Version: cfg.Version, From: from, To: v.Boundary, At: time.Now().UTC(), QuantileRelErr: zeroQuantileErrs()}
	// Expire only once every view compared: a failed run leaves the speed
	// buckets for the next one.
	var expireRefs []flight.BucketRef
	expireHours := map[string][]int64{}
	for _, def := range flight.Views() {
		refs, hours, err := compareView(ctx, cfg.Speed, rep, v, def, from)
		if err != nil {
			return nil, err
		}
		expireRefs = append(expireRefs, refs...)
		expireHours[def.Name] = hours
	}
	for _, def := range flight.Views() {
		n, err := cfg.Expirer.ExpireGroups(ctx, def.Name, expireHours[def.Name], cfg.Grace)
		if err != nil {
			return nil, err
		}
		rep.ExpiredSpeedKey += n
	}
	n, err := cfg.Expirer.ExpireBuckets(ctx, expireRefs, cfg.Grace)
	if err != nil {
		return nil, err
	}
	rep.ExpiredSpeedKey += n
	return saveReport(ctx, cfg.Redis, cfg.KeyPrefix, rep)
}

// compareView compares one view's buckets of the hours [from, v.Boundary)
// into rep. It returns the speed buckets compared and the hours whose speed
// group sets exist: what to expire.
func compareView(ctx context.Context, speed SpeedReader, rep *Report, v *view.View, def flight.View, from int64) ([]flight.BucketRef, []int64, error) {
	byHour, err := speed.GroupsByHour(ctx, def.Name, from, v.Boundary)
	if err != nil {
		return nil, nil, err
	}
	inSpeed := make(map[int64]map[string]struct{}, len(byHour))
	var hours []int64
	for h, gs := range byHour {
		hours = append(hours, h)
		set := make(map[string]struct{}, len(gs))
		for _, g := range gs {
			set[g] = struct{}{}
		}
		inSpeed[h] = set
	}
	var refs []flight.BucketRef
	gs, _ := v.Groups(def.Name)
	for _, g := range gs {
		hs, _ := v.Hours(def.Name, g)
		for _, h := range hs {
			if h < from || h >= v.Boundary {
				continue
			}
			rep.Buckets++
			if _, ok := inSpeed[h][g]; ok {
				delete(inSpeed[h], g)
				refs = append(refs, flight.BucketRef{View: def.Name, Group: g, Hour: h})
				continue
			}
			b, _ := v.Stats(def.Name, g, h, h+3600)
			rep.MissingInSpeed++
			rep.CountMismatches++
			rep.MissingEvents += b.Count
		}
	}
	for h, rest := range inSpeed {
		for g := range rest {
			refs = append(refs, flight.BucketRef{View: def.Name, Group: g, Hour: h})
			rep.ExtraInSpeed++
		}
	}
	for lo := 0; lo < len(refs); lo += bucketsChunk {
		chunk := refs[lo:min(lo+bucketsChunk, len(refs))]
		sbs, err := speed.Buckets(ctx, chunk)
		if err != nil {
			return nil, nil, err
		}
		for i, sb := range sbs {
			ref := chunk[i]
			b, _ := v.Bucket(ref.View, ref.Group, ref.Hour)
			compare(rep, &b, &sb)
		}
	}
	return refs, hours, nil
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

func compare(rep *Report, b *view.Aggregate, sb *flight.Summary) {
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
