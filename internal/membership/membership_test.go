package membership

import (
	"fmt"
	"testing"
)

func TestAssignIsFairAndStable(t *testing.T) {
	for _, tc := range []struct{ members, parts int }{{1, 8}, {2, 8}, {3, 8}, {4, 8}, {3, 16}, {5, 3}} {
		var ms []string
		for i := 0; i < tc.members; i++ {
			ms = append(ms, fmt.Sprintf("w%d", i))
		}
		a := Assign(ms, tc.parts)
		load := map[string]int{}
		for _, m := range a {
			load[m]++
		}
		capacity := (tc.parts + tc.members - 1) / tc.members
		floor := tc.parts / tc.members
		for _, m := range ms {
			if load[m] > capacity || (load[m] < floor) {
				t.Errorf("%d members, %d partitions: %s has %d (%v)", tc.members, tc.parts, m, load[m], a)
			}
		}
		if b := Assign(ms, tc.parts); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatal("Assign is not deterministic")
		}
	}
}
