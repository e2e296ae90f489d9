package recompute

import (
	"encoding/json"
	"testing"

	"github.com/tributary-dev/tributary/workers"
)

// TestManifestFirstHour checks the first hour a publication passes on to
// the reconciliation: the first of its nodes', unknown (0) as soon as a
// node with rows does not say its own, whatever the order of the nodes.
func TestManifestFirstHour(t *testing.T) {
	const h = 978307200
	node := func(rows, first int64) NodeInfo {
		return NodeInfo{Key: "n", Segments: 1, Events: rows, Rows: rows, FirstHour: first}
	}
	for _, tc := range []struct {
		name  string
		nodes []NodeInfo
		want  int64
	}{
		{"one node", []NodeInfo{node(5, h)}, h},
		{"the first of several", []NodeInfo{node(5, h+7200), node(3, h), node(9, h+3600)}, h},
		{"an empty node has none", []NodeInfo{node(5, h+3600), node(0, 0)}, h + 3600},
		{"a node written before first_hour existed", []NodeInfo{node(5, h), node(3, 0)}, 0},
		{"the same, first", []NodeInfo{node(3, 0), node(5, h)}, 0},
		{"no node with rows", []NodeInfo{node(0, 0)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, _ := json.Marshal(PublishArgs{KeyPrefix: "p", Version: 3, Boundary: h + 10*3600})
			c := workers.Call{Key: "publish:v3", Args: args}
			for _, n := range tc.nodes {
				b, _ := json.Marshal(n)
				c.Deps = append(c.Deps, b)
			}
			_, m, first, err := manifest(c)
			if err != nil {
				t.Fatal(err)
			}
			if first != tc.want || len(m.Nodes) != len(tc.nodes) || m.Version != 3 {
				t.Fatalf("first hour %d, %d nodes, version %d; want %d, %d, 3", first, len(m.Nodes), m.Version, tc.want, len(tc.nodes))
			}
		})
	}
}
