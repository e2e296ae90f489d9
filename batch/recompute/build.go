package recompute

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Defaults of Options.
const (
	DefaultFanIn   = 8
	DefaultGrace   = reconcile.DefaultGrace
	DefaultNodeTTL = 30 * 24 * time.Hour
)

// Options tune a recompute.
type Options struct {
	KeyPrefix string
	// FanIn is the tree's fan-in (default DefaultFanIn; less than 2 means the default).
	FanIn int
	// Grace is how long a retired version (and the speed buckets the new one
	// covers) stay readable (default DefaultGrace).
	Grace time.Duration
	// NodeTTL is how long partials and unpublished nodes are kept (the
	// memoization horizon, default DefaultNodeTTL).
	NodeTTL time.Duration
	// Priority of the graph (default graph.Batch).
	Priority graph.Priority
}

// withDefaults returns o with its zero fields set to their defaults, or an
// error naming the first invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.KeyPrefix == "" {
		return o, errors.New("recompute: key prefix must not be empty")
	}
	if o.FanIn < 2 {
		o.FanIn = DefaultFanIn
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = DefaultNodeTTL
	}
	if o.Priority == "" {
		o.Priority = graph.Batch
	}
	return o, nil
}

// Plan says what a recompute graph covers.
type Plan struct {
	Version  int64
	Boundary int64
	Segments int
	// Tasks by kind: partial, merge (node); one publish and one reconcile.
	Partials, Merges int
	// PublishKey is the key of the publish task (its result is Published).
	PublishKey string
}

// Tasks is the number of tasks of the graph.
func (p *Plan) Tasks() int { return p.Partials + p.Merges + 2 }

// ErrNothing says that the archive has no segment yet.
var ErrNothing = errors.New("the archive has no committed segment yet")

// Build reads the archive's committed state and returns the graph of a new
// version: the next version number is taken now (a graph that never
// publishes leaves a gap, harmless).
func Build(ctx context.Context, rdb redis.Cmdable, opts Options) (*graph.Graph, *Plan, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	st, err := archive.ReadState(ctx, rdb, opts.KeyPrefix)
	if err != nil {
		return nil, nil, err
	}
	k := batchkeys.New(opts.KeyPrefix)
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
	t := &tree{b: b, opts: &opts, keys: k, epoch: epoch, store: st.StoreURL, plan: plan, partials: map[segment.Name]string{}}
	// The partials first, largest segment first: the scheduler enqueues the
	// ready tasks in graph order and the workers take them in that order, so
	// the small segments come last and the workers finish together (longest
	// processing time first).
	var segs []segment.Name
	for _, p := range st.Partitions {
		segs = append(segs, p.Names...)
	}
	slices.SortStableFunc(segs, func(a, b segment.Name) int { return cmp.Compare(weight(b), weight(a)) })
	for _, n := range segs {
		t.partials[n] = t.partial(n)
	}
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
	keys  batchkeys.Keys
	epoch int64
	store string
	plan  *Plan
	// partials are the keys of the segments' partial tasks.
	partials map[segment.Name]string
}

// weight is a segment's offset span (at least 1).
func weight(n segment.Name) int64 { return max(n.Last-n.First+1, 1) }

// partition adds the nodes of one partition's segments and returns the keys
// of the nodes that the manifest lists. It is a size-tiered merge: every
// segment is a node (its partial's) of weight its offset span and tier
// floor(log_FanIn(weight)). Segments are added in order to a list of roots;
// whenever FanIn roots have the same tier, the FanIn oldest of them are
// merged into one node (weight their sum, a higher tier) that replaces them.
// So there are fewer than FanIn roots per tier; the nodes made for a prefix
// of the segments do not depend on what follows, so old nodes keep their
// content-addressed keys (and stay memoized) as data grows; and new data is
// merged with nodes of its own size only: a small increment never re-merges
// large old nodes.
func (t *tree) partition(names []segment.Name) []string {
	type root struct {
		tier   int
		weight int64
		names  []segment.Name
		key    string
	}
	fan := t.opts.FanIn
	var roots []root
	for _, n := range names {
		w := weight(n)
		key, ok := t.partials[n]
		if !ok {
			key = t.partial(n)
		}
		roots = append(roots, root{tier: tier(w, fan), weight: w, names: []segment.Name{n}, key: key})
		for {
			// The lowest tier with FanIn roots, if any.
			count := map[int]int{}
			at := -1
			for _, r := range roots {
				if count[r.tier]++; count[r.tier] == fan && (at < 0 || r.tier < at) {
					at = r.tier
				}
			}
			if at < 0 {
				break
			}
			m := root{tier: at + 1}
			var deps []string
			kept := roots[:0:0]
			for _, r := range roots {
				if r.tier == at && len(deps) < fan {
					m.weight += r.weight
					m.names = append(m.names, r.names...)
					deps = append(deps, r.key)
					continue
				}
				kept = append(kept, r)
			}
			m.tier = max(m.tier, tier(m.weight, fan))
			m.key = t.node(m.names, deps)
			roots = append(kept, m)
		}
	}
	keys := make([]string, len(roots))
	for i, r := range roots {
		keys[i] = r.key
	}
	return keys
}

// tier is floor(log_fan(w)) for w >= 1.
func tier(w int64, fan int) int {
	n := 0
	for w >= int64(fan) {
		w /= int64(fan)
		n++
	}
	return n
}

// partial adds the partial task of segment n, which writes the segment's
// aggregate to its own node, keyed (like the task) by the epoch and the
// segment.
func (t *tree) partial(n segment.Name) string {
	key := "partial:e" + strconv.FormatInt(t.epoch, 10) + ":" + n.String()
	t.plan.Partials++
	t.b.TaskWith(key, FuncPartial, PartialArgs{Store: t.store, Segment: n.String(), Node: t.keys.Node(t.hash([]segment.Name{n})),
		TTLMS: t.opts.NodeTTL.Milliseconds()}, nil, graph.Retries(3))
	return key
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
