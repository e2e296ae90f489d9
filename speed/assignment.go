package speed

import (
	"log/slog"
	"slices"

	"github.com/tributary-dev/tributary/internal/membership"
	"github.com/tributary-dev/tributary/speed/metrics"
)

// assignment is the duty that turns the live members into the partitions this
// worker should own (membership.Assign, computed identically by every worker)
// and counts the changes.
type assignment struct {
	self       string
	partitions int
	want       []int
	m          *metrics.Metrics
	log        *slog.Logger
}

// step returns the partitions assigned to this worker, in increasing order.
func (a *assignment) step(members []string) []int {
	var want []int
	for p, owner := range membership.Assign(members, a.partitions) {
		if owner == a.self {
			want = append(want, p)
		}
	}
	if !slices.Equal(want, a.want) {
		a.m.Rebalances.Inc()
		a.log.Info("assignment changed", "members", len(members), "partitions", want)
		a.want = want
	}
	return want
}
