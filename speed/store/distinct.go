package store

import (
	"context"
	"fmt"
)

// Distinct counts the distinct destinations of one group over the hours
// [from, to) (Unix seconds of hour starts) joined with an exact set (e.g. the
// batch part's destinations): every hour's bucket holds its exact set of
// destinations, so the answer is the exact size of the union. The hours are
// read in chunks of hoursChunk per round trip, so no command grows with the
// range.
func (r *Reader) Distinct(ctx context.Context, view, group string, from, to int64, exact map[string]struct{}) (int64, error) {
	v, ok := r.views[view]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	if !v.DistinctDestinations {
		return 0, fmt.Errorf("view %s does not count distinct destinations", view)
	}
	union := make(map[string]struct{}, len(exact))
	for d := range exact {
		union[d] = struct{}{}
	}
	var b Bucket
	err := r.hours(ctx, view, group, hourFloor(from), to, func(val any) error { return addPacked(&b, val, union) })
	if err != nil {
		return 0, fmt.Errorf("distinct destinations of %s %s: %w", view, group, err)
	}
	return int64(len(union)), nil
}

// hourFloor is the start of the hour holding t (Unix seconds).
func hourFloor(t int64) int64 { return t - ((t%3600)+3600)%3600 }
