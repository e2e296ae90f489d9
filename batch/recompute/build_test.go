package recompute

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// TestPartitionTree checks the size-tiered tree: the roots cover every
// segment once, the nodes of a prefix of the segments are nodes of every
// longer list (memoized as data grows), and small increments merge only
// with small nodes.
func TestPartitionTree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var names []segment.Name
	off := int64(0)
	for i := 0; i < 300; i++ {
		w := int64(100)
		if r.IntN(3) == 0 {
			w = 1 + r.Int64N(10)
		}
		names = append(names, segment.Name{Partition: 1, First: off, Last: off + w - 1})
		off += w
	}
	build := func(ns []segment.Name) (roots []string, segs map[string][]string, tasks map[string]bool) {
		tr := &tree{b: graph.New("t"), opts: &Options{KeyPrefix: "p", FanIn: 4}, keys: batchkeys.New("p"), plan: &Plan{}}
		roots = tr.partition(ns)
		g, err := tr.b.Build()
		if err != nil {
			t.Fatal(err)
		}
		segs, tasks = map[string][]string{}, map[string]bool{}
		for _, task := range g.Tasks {
			tasks[task.Key] = true
			segs[task.Key] = task.Deps
		}
		return roots, segs, tasks
	}
	var prev map[string]bool
	for k := 1; k <= len(names); k++ {
		roots, deps, tasks := build(names[:k])
		// Every segment's partial is reached exactly once from the roots.
		seen := map[string]int{}
		var walk func(string)
		walk = func(key string) {
			if len(deps[key]) == 0 {
				seen[key]++
			}
			for _, d := range deps[key] {
				walk(d)
			}
		}
		for _, root := range roots {
			walk(root)
		}
		if len(seen) != k {
			t.Fatalf("%d segments: the roots reach %d partials", k, len(seen))
		}
		for key, n := range seen {
			if n != 1 {
				t.Fatalf("%d segments: partial %s reached %d times", k, key, n)
			}
		}
		for key := range prev {
			if !tasks[key] {
				t.Fatalf("%d segments: task %s of the previous list is gone", k, key)
			}
		}
		if len(roots) > 40 {
			t.Fatalf("%d segments: %d roots", k, len(roots))
		}
		prev = tasks
	}
	// Small segments after large ones do not merge with them.
	big := []segment.Name{}
	for i := int64(0); i < 3; i++ {
		big = append(big, segment.Name{First: i * 1000, Last: i*1000 + 999})
	}
	small := slices.Clone(big)
	for i := int64(0); i < 4; i++ {
		small = append(small, segment.Name{First: 3000 + i, Last: 3000 + i})
	}
	roots, _, _ := build(small)
	if len(roots) != 4 { // 3 big partials + 1 node of the 4 small ones
		t.Fatalf("roots %v", roots)
	}
}
