package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	QuantileRelErr map[string]float64 `json:"quantile_relative_error"`
	DistinctRelErr float64            `json:"distinct_relative_error"`
	// GraceMS is how long the speed keys of the hours before To must stay
	// readable (the batch run's grace): the speed layer, which owns them,
	// gives them that TTL once it sees this report (speed's coverage duty).
	GraceMS int64 `json:"grace_ms"`
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

// Config is one reconciliation.
type Config struct {
	Redis     redis.UniversalClient
	KeyPrefix string
	Speed     SpeedReader
	// Version must be the current batch view's; PrevBoundary is the previous
	// version's boundary (0: compare from the view's first hour).
	Version, PrevBoundary int64
	// FirstHour is the first hour of the version's data, every view's
	// (recompute's Published.FirstHour), 0 if unknown. A first
	// reconciliation (PrevBoundary 0) compares from it, and reads the
	// speed digests while the view loads. Unknown, each view is compared
	// from its own first hour, known once it is loaded, and then the hours
	// between the views' first hours.
	FirstHour int64
	// Grace is how long the speed keys of the compared hours must stay
	// readable, recorded in the report (Report.GraceMS) for the speed
	// layer, which expires them.
	Grace time.Duration
	// Parallelism is the number of chunks of hours compared at once
	// (default GOMAXPROCS): each reads its speed hours from Redis while the
	// others compare.
	Parallelism int

	// loadViews loads views of a version (view.LoadViews when nil; tests
	// count the loads).
	loadViews func(ctx context.Context, rdb redis.Cmdable, m view.Manifest, names ...string) (*view.View, error)
}

func (cfg *Config) check() error {
	if cfg.Redis == nil || cfg.Speed == nil || cfg.KeyPrefix == "" {
		return errors.New("reconcile: Redis, KeyPrefix and Speed are required")
	}
	return nil
}

// hoursOf is the number of hours of [from, to).
func hoursOf(from, to int64) int { return int((to - from + 3599) / 3600) }

// Run reconciles cfg.Version (which must be current) over the hours from
// cfg.PrevBoundary (else cfg.FirstHour, else the first hour of the views)
// to its boundary, one view after the other (runView: the process holds
// one view at a time, not all), then merges the views' reports, stores the
// result and returns it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	m, err := view.Current(ctx, cfg.Redis, cfg.KeyPrefix)
	if err != nil {
		return nil, err
	}
	if m.Version != cfg.Version {
		return nil, ErrSuperseded
	}
	reps := make([]*Report, len(flight.Views()))
	for vi := range flight.Views() {
		if reps[vi], err = runView(ctx, cfg, m, vi); err != nil {
			return nil, err
		}
	}
	return merge(ctx, cfg, reps)
}

// runView reconciles the view of index vi of flight.Views(), of the version
// m describes: it loads that view alone, compares it with the speed
// layer's over the hours from cfg.PrevBoundary (else cfg.FirstHour, else
// the view's first hour) to the version's boundary. The report is the
// view's.
func runView(ctx context.Context, cfg Config, m view.Manifest, vi int) (*Report, error) {
	name := flight.Views()[vi].Name
	rep := &Report{Version: cfg.Version, To: m.Boundary, QuantileRelErr: zeroQuantileErrs()}
	if cfg.PrevBoundary != 0 && cfg.PrevBoundary >= m.Boundary {
		// No hour is newly covered (new data behind the boundary only):
		// nothing to compare, no need to load the view.
		rep.From = cfg.PrevBoundary
		return rep, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the digests' reader if the load fails
	from := cfg.PrevBoundary
	if from == 0 && cfg.FirstHour != 0 {
		from = min(cfg.FirstHour, m.Boundary)
	}
	var speed func() ([]flight.HourDigest, error)
	if from != 0 {
		// The ~70,000 hashes of 3,000,000 flights' view, off the
		// critical path: read while the view loads.
		speed = readDigests(ctx, cfg.Speed, name, from, m.Boundary)
	}
	load := cfg.loadViews
	if load == nil {
		load = view.LoadViews
	}
	v, err := load(ctx, cfg.Redis, m, name)
	if err != nil {
		return nil, err
	}
	if from == 0 {
		from = v.FirstHour()
		speed = readDigests(ctx, cfg.Speed, name, from, m.Boundary)
	}
	if err := compareView(ctx, cfg, v, vi, from, hoursOf(from, m.Boundary), speed, rep); err != nil {
		return nil, err
	}
	v.Release(name)
	rep.From = from
	return rep, nil
}

// readDigests starts reading the speed digests of a view over [from, to)
// and returns the function that waits for them, checked.
func readDigests(ctx context.Context, speed SpeedReader, name string, from, to int64) func() ([]flight.HourDigest, error) {
	return start(func() ([]flight.HourDigest, error) {
		ds, err := speed.HourDigests(ctx, name, from, to)
		if err != nil {
			return nil, err
		}
		return checkDigests(ds, name, from, hoursOf(from, to))
	})
}

// start runs fn in a goroutine and returns the function that waits for
// its result (any number of times). fn must end when the reconciliation's
// context does.
func start[T any](fn func() (T, error)) func() (T, error) {
	var v T
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err = fn()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

// checkDigests checks that ds are a view's digests of the nh hours from
// `from`, in order.
func checkDigests(ds []flight.HourDigest, name string, from int64, nh int) ([]flight.HourDigest, error) {
	if len(ds) != nh {
		return nil, fmt.Errorf("reconcile: the speed reader returned %d digests of %s for %d hours", len(ds), name, nh)
	}
	for h, d := range ds {
		if d.Hour != from+int64(h)*3600 {
			return nil, fmt.Errorf("reconcile: the speed reader returned the digest of hour %d for hour %d", d.Hour, from+int64(h)*3600)
		}
	}
	return ds, nil
}

// merge adds up the reports of runView, one per view of flight.Views() in
// that order, into the version's report, and stores it. When the views
// began at different hours (a first reconciliation without
// cfg.FirstHour), the speed buckets of a view in the hours before its own
// first one, from the first of any view, are compared too (the batch view
// has none there: each is extra in speed).
func merge(ctx context.Context, cfg Config, reps []*Report) (*Report, error) {
	out := &Report{Version: cfg.Version, From: reps[0].From, To: reps[0].To, QuantileRelErr: zeroQuantileErrs()}
	for _, r := range reps {
		out.From = min(out.From, r.From)
	}
	for vi, r := range reps {
		if r.From > out.From {
			name := flight.Views()[vi].Name
			read := readDigests(ctx, cfg.Speed, name, out.From, r.From)
			if err := compareView(ctx, cfg, nil, vi, out.From, hoursOf(out.From, r.From), read, out); err != nil {
				return nil, err
			}
		}
		out.add(r)
	}
	out.At, out.GraceMS = time.Now().UTC(), cfg.Grace.Milliseconds()
	return saveReport(ctx, cfg.Redis, cfg.KeyPrefix, out)
}

// add adds a view's counts and errors into r.
func (r *Report) add(o *Report) {
	r.Buckets += o.Buckets
	r.CountMismatches += o.CountMismatches
	r.StatsMismatches += o.StatsMismatches
	r.MissingInSpeed += o.MissingInSpeed
	r.ExtraInSpeed += o.ExtraInSpeed
	r.MissingEvents += o.MissingEvents
	r.HoursByDigest += o.HoursByDigest
	r.HoursCompared += o.HoursCompared
	r.DistinctRelErr = max(r.DistinctRelErr, o.DistinctRelErr)
	for q, e := range o.QuantileRelErr {
		r.QuantileRelErr[q] = max(r.QuantileRelErr[q], e)
	}
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

// DefaultGrace is the grace of a report that does not record one (written
// by a build before Report.GraceMS): the batch run's default.
const DefaultGrace = 10 * time.Minute

// Covered returns what the speed layer's coverage duty asks (speed's
// Config.Covered): the end of the last reconciled hours under keyPrefix
// (0: none yet) and the grace its speed keys get. The speed layer expires
// them only once the reconciliation that read them is done.
func Covered(rdb redis.Cmdable, keyPrefix string) func(context.Context) (int64, time.Duration, error) {
	return func(ctx context.Context) (int64, time.Duration, error) {
		r, err := Last(ctx, rdb, keyPrefix)
		if err != nil || r == nil {
			return 0, 0, err
		}
		grace := time.Duration(r.GraceMS) * time.Millisecond
		if grace <= 0 {
			grace = DefaultGrace
		}
		return r.To, grace, nil
	}
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
