package store

import (
	"context"
	"fmt"
)

// SumDistinct is Sums of one group that also counts its distinct
// destinations over the hours [from, to) joined with an exact set (e.g. the
// batch part's): every hour's bucket holds its exact set of destinations,
// so Distinct is the exact size of the union (no Quantiles). The hours are
// read in pipelined chunks (see read), so no command grows with the range.
func (r *Reader) SumDistinct(ctx context.Context, view, group string, from, to int64, exact map[string]struct{}) (Bucket, error) {
	v, ok := r.views[view]
	if !ok {
		return Bucket{}, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	if !v.DistinctDestinations {
		return Bucket{}, fmt.Errorf("view %s does not count distinct destinations", view)
	}
	union := make(map[string]struct{}, len(exact))
	for d := range exact {
		union[d] = struct{}{}
	}
	add := func(d string) { union[d] = struct{}{} } // d is a substring of the reply: no copy
	from, to = hourFloor(from), hourFloor(to-1)+3600
	b := Bucket{View: view, Group: group, From: from, To: to - 3600}
	err := r.read(ctx, view, []string{group}, from, to, func(_ int, _ int64, p string) error {
		return addPacked(&b, p, add)
	})
	if err != nil {
		return Bucket{}, fmt.Errorf("distinct destinations of %s %s: %w", view, group, err)
	}
	b.Distinct = int64(len(union))
	return b, nil
}

// hourFloor is the start of the hour holding t (Unix seconds).
func hourFloor(t int64) int64 { return t - ((t%3600)+3600)%3600 }
