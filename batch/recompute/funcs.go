package recompute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/workers"
)

// Names of the worker functions.
const (
	FuncPartial   = "batch.partial"
	FuncMerge     = "batch.merge"
	FuncPublish   = "batch.publish"
	FuncReconcile = "batch.reconcile"
)

// Funcs are the batch layer's worker functions. They share a Redis client
// and the segment stores opened so far (one per URL).
type Funcs struct {
	rdb    redis.UniversalClient
	log    *slog.Logger
	speed  SpeedLayer
	mu     sync.Mutex
	stores map[string]segstore.Store
}

// SpeedLayer gives the speed layer's views under a key prefix, for the
// reconciliation: the batch layer does not import the speed layer, the
// process wiring passes it in (speed/store.NewReader).
type SpeedLayer func(keyPrefix string) reconcile.SpeedReader

// NewFuncs returns the functions, using rdb for nodes and views and speed for
// the reconciliation.
func NewFuncs(rdb redis.UniversalClient, log *slog.Logger, speed SpeedLayer) *Funcs {
	if log == nil {
		log = slog.Default()
	}
	return &Funcs{rdb: rdb, log: log, speed: speed, stores: map[string]segstore.Store{}}
}

// Register returns the registration of the batch functions, for the worker.
func Register(rdb redis.UniversalClient, log *slog.Logger, speed SpeedLayer) workers.Registration {
	return NewFuncs(rdb, log, speed).Register
}

// Register adds every function to r.
func (f *Funcs) Register(r *workers.Registry) error {
	for name, fn := range map[string]workers.Func{
		FuncPartial: f.Partial, FuncMerge: f.Merge, FuncPublish: f.Publish, FuncReconcile: f.Reconcile,
	} {
		if err := r.Register(name, fn); err != nil {
			return err
		}
	}
	return nil
}

func (f *Funcs) store(ctx context.Context, url string) (segstore.Store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.stores[url]; ok {
		return s, nil
	}
	s, err := segstore.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	f.stores[url] = s
	return s, nil
}

// PartialArgs are batch.partial's arguments.
type PartialArgs struct {
	Store   string `json:"store"`
	Segment string `json:"segment"`
	// Node is the Redis key the aggregate is written to (kept TTLMS); the
	// task's result is then a NodeInfo. Without it, the result is the
	// aggregate itself.
	Node  string `json:"node,omitempty"`
	TTLMS int64  `json:"ttl_ms,omitempty"`
}

func decodeArgs(c workers.Call, v any) error {
	if err := json.Unmarshal(c.Args, v); err != nil {
		return workers.Permanent(fmt.Errorf("%s: arguments: %w", c.Key, err))
	}
	return nil
}

// Partial computes one segment's aggregate.
func (f *Funcs) Partial(ctx context.Context, c workers.Call) ([]byte, error) {
	var a PartialArgs
	if err := decodeArgs(c, &a); err != nil {
		return nil, err
	}
	st, err := f.store(ctx, a.Store)
	if err != nil {
		return nil, err
	}
	data, err := st.Get(ctx, a.Segment)
	if errors.Is(err, segstore.ErrNotFound) {
		// A committed segment cannot come back: retrying will not help.
		return nil, workers.Permanent(err)
	}
	if err != nil {
		return nil, err
	}
	out, rows, events, first, err := partialOf(ctx, data)
	if err != nil || a.Node == "" {
		return out, err
	}
	if err := f.rdb.Set(ctx, a.Node, out, time.Duration(a.TTLMS)*time.Millisecond).Err(); err != nil {
		return nil, fmt.Errorf("partial: write node: %w", err)
	}
	partial.Recycle(out)
	return json.Marshal(NodeInfo{Key: a.Node, Segments: 1, Events: events, Rows: rows, Bytes: int64(len(out)), FirstHour: first})
}

// PartialOf computes the aggregate of a segment's Parquet bytes.
func PartialOf(ctx context.Context, data []byte) ([]byte, error) {
	out, _, _, _, err := partialOf(ctx, data)
	return out, err
}

func partialOf(ctx context.Context, data []byte) (out []byte, rows, events, firstHour int64, err error) {
	b := partial.NewColumnar(flight.Views())
	err = segment.ScanFlights(ctx, data, func(n int, f *segment.Flights) error {
		return b.AddDictionaries(n, f.Time, f.Origin, f.Destination, f.Delay)
	})
	if err != nil {
		return nil, 0, 0, 0, workers.Permanent(err)
	}
	firstHour = b.FirstHour()
	out, rows, err = b.EncodeRows()
	return out, rows, b.Events(), firstHour, err
}

// MergeArgs are batch.merge's arguments.
type MergeArgs struct {
	KeyPrefix string `json:"key_prefix"`
	// Node is the Redis key the merged aggregate is written to.
	Node string `json:"node"`
	// Inputs says what the dependencies are: "partials" (aggregates) or
	// "nodes" (NodeInfos of merged nodes, read from Redis).
	Inputs   string `json:"inputs"`
	TTLMS    int64  `json:"ttl_ms"`
	Segments int64  `json:"segments"`
}

// NodeInfo is batch.merge's result.
type NodeInfo struct {
	Key      string `json:"key"`
	Segments int64  `json:"segments"`
	Events   int64  `json:"events"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	// FirstHour is the first hour of the node's rows (Unix seconds); 0 if
	// it has none, or was written before the field existed.
	FirstHour int64 `json:"first_hour,omitempty"`
}

// Merge combines its inputs into a node.
func (f *Funcs) Merge(ctx context.Context, c workers.Call) ([]byte, error) {
	var a MergeArgs
	if err := decodeArgs(c, &a); err != nil {
		return nil, err
	}
	inputs := c.Deps
	var events int64
	if a.Inputs == "nodes" {
		keys := make([]string, len(c.Deps))
		for i, d := range c.Deps {
			var ni NodeInfo
			if err := json.Unmarshal(d, &ni); err != nil {
				return nil, workers.Permanent(fmt.Errorf("merge: input %d: %w", i, err))
			}
			keys[i] = ni.Key
			events += ni.Events
		}
		vals, err := f.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("merge: read nodes: %w", err)
		}
		inputs = make([][]byte, len(vals))
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				// The node expired while its memoized NodeInfo lives on: salt
				// the node keys so that the next recompute rebuilds them.
				f.rdb.Incr(ctx, batchkeys.New(a.KeyPrefix).Epoch())
				return nil, workers.Permanent(fmt.Errorf("merge: node %s is gone; the next recompute rebuilds the nodes", keys[i]))
			}
			inputs[i] = unsafe.Slice(unsafe.StringData(s), len(s)) // read only
		}
	}
	aggs, err := partial.Decoded(inputs)
	if err != nil {
		return nil, workers.Permanent(err)
	}
	var out []byte
	var rows int64
	if len(aggs) == 1 && a.Inputs == "nodes" {
		out, rows = inputs[0], aggs[0].Rows()
	} else if out, rows, err = partial.MergeRows(flight.Views(), aggs); err != nil {
		return nil, err
	}
	if a.Inputs != "nodes" {
		res, err := partial.Decode(out)
		if err != nil {
			return nil, err
		}
		if len(res.Tables) > 0 {
			t := res.Tables[0]
			for i := 0; i < t.Len(); i++ {
				events += t.Stats(i).Count
			}
		}
	}
	ni := NodeInfo{Key: a.Node, Segments: a.Segments, Rows: rows, Bytes: int64(len(out)), Events: events}
	for _, a := range aggs {
		if h := a.FirstHour(); h != 0 && (ni.FirstHour == 0 || h < ni.FirstHour) {
			ni.FirstHour = h
		}
	}
	if err := f.rdb.Set(ctx, a.Node, out, time.Duration(a.TTLMS)*time.Millisecond).Err(); err != nil {
		return nil, fmt.Errorf("merge: write node: %w", err)
	}
	if len(aggs) > 1 || a.Inputs != "nodes" {
		partial.Recycle(out) // out is ours (not an input's)
	}
	return json.Marshal(ni)
}

// PublishArgs are batch.publish's arguments.
type PublishArgs struct {
	KeyPrefix string `json:"key_prefix"`
	Version   int64  `json:"version"`
	Boundary  int64  `json:"boundary"`
	GraceMS   int64  `json:"grace_ms"`
}

// Published is batch.publish's result.
type Published struct {
	Version      int64 `json:"version"`
	Boundary     int64 `json:"boundary"`
	PrevVersion  int64 `json:"prev_version"`
	PrevBoundary int64 `json:"prev_boundary"`
	Segments     int64 `json:"segments"`
	Events       int64 `json:"events"`
	Nodes        int   `json:"nodes"`
	// FirstHour is the first hour of the version's data, 0 if unknown (a
	// node's NodeInfo written before NodeInfo.FirstHour existed).
	FirstHour int64 `json:"first_hour,omitempty"`
}

// Manifest builds the manifest of a publish call (the first half of Publish,
// exported so that tests can stop a publication right before its switch).
func (f *Funcs) Manifest(c workers.Call) (PublishArgs, view.Manifest, error) {
	a, m, _, err := manifest(c)
	return a, m, err
}

// manifest is Manifest, and the first hour of the nodes' rows (0 if a node
// with rows does not say its first).
func manifest(c workers.Call) (PublishArgs, view.Manifest, int64, error) {
	var a PublishArgs
	if err := decodeArgs(c, &a); err != nil {
		return a, view.Manifest{}, 0, err
	}
	m := view.Manifest{Version: a.Version, Boundary: a.Boundary, PublishedAt: time.Now()}
	var first int64
	known := true
	for i, d := range c.Deps {
		var ni NodeInfo
		if err := json.Unmarshal(d, &ni); err != nil {
			return a, m, 0, workers.Permanent(fmt.Errorf("publish: input %d: %w", i, err))
		}
		m.Nodes = append(m.Nodes, ni.Key)
		m.Segments += ni.Segments
		m.Events += ni.Events
		switch {
		case ni.Rows > 0 && ni.FirstHour == 0:
			known = false
		case ni.FirstHour != 0 && (first == 0 || ni.FirstHour < first):
			first = ni.FirstHour
		}
	}
	if !known {
		first = 0
	}
	return a, m, first, nil
}

// Publish switches the current version to the graph's.
func (f *Funcs) Publish(ctx context.Context, c workers.Call) ([]byte, error) {
	a, m, first, err := manifest(c)
	if err != nil {
		return nil, err
	}
	sw, err := view.Switch(ctx, f.rdb, a.KeyPrefix, m, time.Duration(a.GraceMS)*time.Millisecond)
	if errors.Is(err, view.ErrMissingNode) {
		f.rdb.Incr(ctx, batchkeys.New(a.KeyPrefix).Epoch())
		return nil, workers.Permanent(err)
	}
	if errors.Is(err, view.ErrStale) {
		return nil, workers.Permanent(err)
	}
	if err != nil {
		return nil, err
	}
	f.log.Info("batch view published", "version", m.Version, "boundary", time.Unix(m.Boundary, 0).UTC(),
		"segments", m.Segments, "events", m.Events, "nodes", len(m.Nodes), "previous", sw.PrevVersion)
	return json.Marshal(Published{Version: m.Version, Boundary: m.Boundary, PrevVersion: sw.PrevVersion, PrevBoundary: sw.PrevBoundary,
		Segments: m.Segments, Events: m.Events, Nodes: len(m.Nodes), FirstHour: first})
}

// reconcileConfig is the reconciliation of the version that c's input,
// the publish result, made current.
func (f *Funcs) reconcileConfig(c workers.Call, keyPrefix string, graceMS int64) (reconcile.Config, error) {
	if len(c.Deps) != 1 {
		return reconcile.Config{}, workers.Permanent(fmt.Errorf("%s: want the publish result as the only input", c.Key))
	}
	var p Published
	if err := json.Unmarshal(c.Deps[0], &p); err != nil {
		return reconcile.Config{}, workers.Permanent(fmt.Errorf("%s: %w", c.Key, err))
	}
	return reconcile.Config{Redis: f.rdb, KeyPrefix: keyPrefix, Speed: f.speed(keyPrefix), Version: p.Version,
		PrevBoundary: p.PrevBoundary, FirstHour: p.FirstHour, Grace: time.Duration(graceMS) * time.Millisecond}, nil
}

// ReconcileArgs are batch.reconcile's arguments.
type ReconcileArgs struct {
	KeyPrefix string `json:"key_prefix"`
	// GraceMS is the TTL given to the speed buckets that the batch view now covers.
	GraceMS int64 `json:"grace_ms"`
}

// Reconcile compares the speed and batch views over the hours newly covered
// by the version its input, the publish result, made current.
func (f *Funcs) Reconcile(ctx context.Context, c workers.Call) ([]byte, error) {
	var a ReconcileArgs
	if err := decodeArgs(c, &a); err != nil {
		return nil, err
	}
	cfg, err := f.reconcileConfig(c, a.KeyPrefix, a.GraceMS)
	if err != nil {
		return nil, err
	}
	// Logged at both ends: an operator (and scripts/chaos.sh's worker-kill)
	// sees which worker holds a reconciliation, and whether it ended.
	f.log.Info("reconciliation started", "version", cfg.Version, "task", c.Key)
	rep, err := reconcile.Run(ctx, cfg)
	if errors.Is(err, reconcile.ErrSuperseded) {
		f.log.Info("reconciliation skipped: a newer version is current", "version", cfg.Version)
		return []byte(`{"skipped":true}`), nil
	}
	if err != nil {
		return nil, err
	}
	f.log.Info("reconciliation done", "version", rep.Version, "buckets", rep.Buckets,
		"count_mismatches", rep.CountMismatches, "stats_mismatches", rep.StatsMismatches)
	if rep.CountMismatches > 0 || rep.StatsMismatches > 0 {
		// Error level: the speed layer is exact by design, so a mismatch is
		// lost or refused data (late events) to look at; also in /v1/status
		// (batch_layer.reconcile) and alerted (BatchReconciliationMismatch).
		f.log.Error("reconciliation found mismatches between the speed and batch views", "version", rep.Version,
			"from", time.Unix(rep.From, 0).UTC(), "to", time.Unix(rep.To, 0).UTC(), "buckets", rep.Buckets,
			"count_mismatches", rep.CountMismatches, "stats_mismatches", rep.StatsMismatches,
			"missing_in_speed", rep.MissingInSpeed, "extra_in_speed", rep.ExtraInSpeed, "missing_events", rep.MissingEvents)
	}
	return json.Marshal(rep)
}
