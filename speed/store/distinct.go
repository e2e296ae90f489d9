package store

import (
	"context"
	"fmt"
)

// Distinct counts the distinct destinations of one group over the hours
// [from, to) (Unix seconds of hour starts) joined with an exact set (e.g. the
// batch part's destinations): every hour's bucket holds its exact set of
// destinations, so the answer is the exact size of the union. The hours are
// read in pipelined chunks (see read), so no command grows with the range.
func (r *Reader) Distinct(ctx context.Context, view, group string, from, to int64, exact map[string]struct{}) (int64, error) {
	b, err := r.SumDistinct(ctx, view, group, from, to, exact)
	return b.Distinct, err
}

// SumDistinct is Sums of one group and Distinct in the same read: the
// group's stats and sketch over the hours [from, to), and in Distinct the
// size of the union of its destinations with exact (no Quantiles).
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
	add := func(d []byte) {
		if _, ok := union[string(d)]; !ok { // a lookup does not copy d
			union[string(d)] = struct{}{}
		}
	}
	from, to = hourFloor(from), hourFloor(to-1)+3600
	b := Bucket{View: view, Group: group, From: from, To: to - 3600}
	err := r.read(ctx, view, []string{group}, from, to, func(_ int, _ int64, p []byte) error {
		return unpackTo(p, &b.Stats, &b.Sketch, add)
	})
	if err != nil {
		return Bucket{}, fmt.Errorf("distinct destinations of %s %s: %w", view, group, err)
	}
	b.Distinct = int64(len(union))
	return b, nil
}

// hourFloor is the start of the hour holding t (Unix seconds).
func hourFloor(t int64) int64 { return t - ((t%3600)+3600)%3600 }
