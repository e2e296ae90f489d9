package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

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
	// HoursByDigest counts the (view, hour) pairs with buckets whose speed
	// digest equals the batch view's: their buckets were not read.
	// HoursCompared counts those compared bucket by bucket (the digests
	// differ, or a speed hash has none).
	HoursByDigest int64 `json:"hours_by_digest"`
	HoursCompared int64 `json:"hours_compared"`
}

// ErrSuperseded is returned when the version to reconcile is no longer current.
var ErrSuperseded = errors.New("version no longer current")

// SpeedReader reads the speed layer's views (speed/store.Reader implements it).
type SpeedReader interface {
	// ScanHours calls fn for every bucket of a view in the hours [from, to),
	// hour after hour, each bucket once; b is reused between calls.
	ScanHours(ctx context.Context, view string, from, to int64, fn func(hour int64, group string, b *flight.SketchedBucket) error) error
	// HourDigests returns the digest of every hour of [from, to) of a
	// view, in increasing hour (flight.HourDigest).
	HourDigests(ctx context.Context, view string, from, to int64) ([]flight.HourDigest, error)
}

// SpeedExpirer expires the speed layer's keys of hours the batch view now
// covers (speed/store.Expirer implements it). It returns the number of keys
// given a TTL.
type SpeedExpirer interface {
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
	// Parallelism is the number of chunks of hours compared at once
	// (default GOMAXPROCS): each reads its speed hours from Redis while the
	// others compare.
	Parallelism int

	// loadViews loads views of a version (view.LoadViews when nil; tests
	// count the loads).
	loadViews func(ctx context.Context, rdb redis.Cmdable, m view.Manifest, names ...string) (*view.View, error)
}

// hoursOf is the number of hours of [from, to).
func hoursOf(from, to int64) int { return int((to - from + 3599) / 3600) }

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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the speed digests' readers if a load fails
	speed := prefetchSpeed(ctx, cfg.Speed, m.Boundary)
	if cfg.PrevBoundary != 0 {
		speed.start(cfg.PrevBoundary)
	}
	load := cfg.loadViews
	if load == nil {
		load = view.LoadViews
	}
	rep := &Report{Version: cfg.Version, To: m.Boundary, QuantileRelErr: zeroQuantileErrs()}
	hours := map[string][]int64{}
	// One view at a time: loaded, compared, then dropped before the next
	// loads, so that the process holds the largest view's Arrow buffers
	// (route_hour: 226 of the 333 MB of 3,000,000 flights), not all of
	// them, and its collector does not run flat out under the worker's
	// memory limit.
	firsts := make([]int64, len(flight.Views()))
	released := make([]*view.View, len(flight.Views()))
	for vi, def := range flight.Views() {
		v, err := load(ctx, cfg.Redis, m, def.Name)
		if err != nil {
			return nil, err
		}
		from := cfg.PrevBoundary
		if from == 0 {
			// A first reconciliation starts at the first hour of any
			// view: this view's is known now, the others' once loaded;
			// the hours between are compared below.
			from = v.FirstHour()
			speed.startView(vi, from)
		}
		firsts[vi] = from
		nh := hoursOf(from, m.Boundary)
		if err := compareView(ctx, cfg, v, vi, from, nh, func() ([]flight.HourDigest, error) { return speed.wait(vi, nh) }, rep, hours); err != nil {
			return nil, err
		}
		v.Release(def.Name)
		released[vi] = v
	}
	from := slices.Min(firsts)
	for vi, def := range flight.Views() {
		if firsts[vi] == from {
			continue
		}
		// The hours before this view's first one, from the first of
		// every view: the batch view has no bucket there, the speed
		// layer's buckets are extra (and expired with the others).
		nh := hoursOf(from, firsts[vi])
		read := func() ([]flight.HourDigest, error) {
			ds, err := cfg.Speed.HourDigests(ctx, def.Name, from, firsts[vi])
			if err != nil {
				return nil, err
			}
			return checkDigests(ds, def.Name, from, nh)
		}
		if err := compareView(ctx, cfg, released[vi], vi, from, nh, read, rep, hours); err != nil {
			return nil, err
		}
	}
	rep.From, rep.At = from, time.Now().UTC()
	for _, hs := range hours {
		slices.Sort(hs)
	}
	// Expire only once every view compared: a failed run leaves the speed
	// buckets for the next one. The views at once: their pipelines' round
	// trips overlap.
	expired := make([]int64, len(flight.Views()))
	var eg errgroup.Group
	for i, def := range flight.Views() {
		eg.Go(func() error {
			n, err := cfg.Expirer.ExpireGroups(ctx, def.Name, hours[def.Name], cfg.Grace)
			expired[i] = n
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	for _, n := range expired {
		rep.ExpiredSpeedKey += n
	}
	return saveReport(ctx, cfg.Redis, cfg.KeyPrefix, rep)
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
		"count":   d("reconcile_count_mismatches", "Buckets whose count differs between the speed and batch views (must be 0 but for late events)."),
		"missing": d("reconcile_missing_events", "Events in the batch view that the speed view lacks (late events refused by the speed layer)."),
		"stats":   d("reconcile_stats_mismatches", "Buckets whose sum, delayed, min or max differ while the count agrees."),
		"buckets": d("reconcile_buckets", "Buckets compared by the last reconciliation."),
		"hours": d("reconcile_hours", "(View, hour) pairs of the last reconciliation: settled by their digests (how=digest) or compared bucket by bucket (how=buckets).",
			"how"),
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
	g("hours", float64(r.HoursByDigest), "digest")
	g("hours", float64(r.HoursCompared), "buckets")
	for q, e := range r.QuantileRelErr {
		g("quantile", e, q)
	}
}
