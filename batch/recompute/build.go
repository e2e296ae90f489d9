package recompute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/keyspace"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Options tune a recompute.
type Options struct {
	KeyPrefix string
	// FanIn is the tree's fan-in (default 8).
	FanIn int
	// Grace is how long a retired version (and the speed buckets the new one
	// covers) stay readable (default 10 min).
	Grace time.Duration
	// NodeTTL is how long partials and unpublished nodes are kept (the
	// memoization horizon, default 30 days).
	NodeTTL time.Duration
	// Priority of the graph (default batch).
	Priority graph.Priority
}

func (o *Options) defaults() error {
	if o.KeyPrefix == "" {
		return errors.New("recompute: key prefix must not be empty")
	}
	if o.FanIn < 2 {
		o.FanIn = 8
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Minute
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 30 * 24 * time.Hour
	}
	if o.Priority == "" {
		o.Priority = graph.Batch
	}
	return nil
}

// Plan says what a recompute graph covers.
type Plan struct {
	Version  int64
	Boundary int64
	Segments int
	// Tasks by kind: partial, merge (node), publish, reconcile.
	Partials, Merges int
	// PublishKey is the key of the publish task (its result is Published).
	PublishKey string
}

// ErrNothing says that the archive has no segment yet.
var ErrNothing = errors.New("the archive has no committed segment yet")

// Build reads the archive's committed state and returns the graph of a new
// version: the next version number is taken now (a graph that never
// publishes leaves a gap, harmless).
func Build(ctx context.Context, rdb redis.Cmdable, opts Options) (*graph.Graph, *Plan, error) {
	if err := opts.defaults(); err != nil {
		return nil, nil, err
	}
	st, err := archive.ReadState(ctx, rdb, opts.KeyPrefix)
	if err != nil {
		return nil, nil, err
	}
	k := keyspace.New(opts.KeyPrefix)
	epoch, err := rdb.Get(ctx, k.Epoch()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("recompute: epoch: %w", err)
	}
	plan := &Plan{Boundary: st.Boundary()}
	for _, p := range st.Partitions {
		plan.Segments += len(p.Names)
	}
	if plan.Segments == 0 {
		return nil, nil, ErrNothing
	}
	if plan.Version, err = rdb.Incr(ctx, k.Version()).Result(); err != nil {
		return nil, nil, fmt.Errorf("recompute: version: %w", err)
	}
	b := graph.New("batch-recompute").WithID("batch-v" + strconv.FormatInt(plan.Version, 10)).
		WithPriority(opts.Priority).WithResultTTL(opts.NodeTTL)
	t := &tree{b: b, opts: &opts, keys: k, epoch: epoch, store: st.StoreURL, plan: plan}
	var roots []string
	for _, p := range st.Partitions {
		roots = append(roots, t.partition(p.Names)...)
	}
	plan.PublishKey = "publish:v" + strconv.FormatInt(plan.Version, 10)
	b.TaskWith(plan.PublishKey, FuncPublish, PublishArgs{KeyPrefix: opts.KeyPrefix, Version: plan.Version,
		Boundary: plan.Boundary, GraceMS: opts.Grace.Milliseconds()}, roots, graph.Retries(3))
	b.TaskWith("reconcile:v"+strconv.FormatInt(plan.Version, 10), FuncReconcile,
		ReconcileArgs{KeyPrefix: opts.KeyPrefix, GraceMS: opts.Grace.Milliseconds()}, []string{plan.PublishKey}, graph.Retries(2))
	g, err := b.Build()
	if err != nil {
		return nil, nil, err
	}
	return g, plan, nil
}

type tree struct {
	b     *graph.Builder
	opts  *Options
	keys  keyspace.Keys
	epoch int64
	store string
	plan  *Plan
}

// partition adds the nodes of one partition's segments and returns the keys
// of the nodes that the manifest lists: aligned complete blocks of FanIn^L
// segments, largest first, then a tail node over the rest.
func (t *tree) partition(names []segment.Name) []string {
	var roots []string
	pos, n := 0, len(names)
	for pos < n {
		size := 1
		for size*t.opts.FanIn <= n-pos {
			size *= t.opts.FanIn
		}
		if size == 1 {
			// The tail (< FanIn segments): the partials' own nodes are roots,
			// so that new data adds nodes without re-merging old ones.
			roots = append(roots, t.partials(names[pos:])...)
			break
		}
		roots = append(roots, t.block(names[pos:pos+size]))
		pos += size
	}
	return roots
}

// block adds the node of a complete block of FanIn^L segments (L >= 1).
func (t *tree) block(names []segment.Name) string {
	if len(names) == t.opts.FanIn {
		return t.node(names, t.partials(names))
	}
	step := len(names) / t.opts.FanIn
	children := make([]string, 0, t.opts.FanIn)
	for i := 0; i < len(names); i += step {
		children = append(children, t.block(names[i:i+step]))
	}
	return t.node(names, children)
}

func (t *tree) partials(names []segment.Name) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		// The partial writes its aggregate to its own node, keyed (like the
		// task) by the epoch and the segment.
		hash := t.hash([]segment.Name{n})
		keys[i] = "partial:e" + strconv.FormatInt(t.epoch, 10) + ":" + n.String()
		t.plan.Partials++
		t.b.TaskWith(keys[i], FuncPartial, PartialArgs{Store: t.store, Segment: n.String(), Node: t.keys.Node(hash),
			TTLMS: t.opts.NodeTTL.Milliseconds()}, nil, graph.Retries(3))
	}
	return keys
}

// hash names the node of segments names: a hash of the epoch and the
// segments, so it stays the same as long as they do.
func (t *tree) hash(names []segment.Name) string {
	h := sha256.New()
	fmt.Fprintf(h, "e%d", t.epoch)
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n.String()))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// node adds a merge task over deps (partials or nodes, whose results are
// NodeInfos) for the segments names.
func (t *tree) node(names []segment.Name, deps []string) string {
	hash := t.hash(names)
	key := "node:" + hash
	t.plan.Merges++
	t.b.TaskWith(key, FuncMerge, MergeArgs{KeyPrefix: t.opts.KeyPrefix, Node: t.keys.Node(hash), Inputs: "nodes",
		TTLMS: t.opts.NodeTTL.Milliseconds(), Segments: int64(len(names))}, deps, graph.Retries(3))
	return key
}
