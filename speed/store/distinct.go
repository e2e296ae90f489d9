package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tributary-dev/tributary/flight"
)

// unionChunk bounds the HyperLogLogs of one PFMERGE and the members of one
// PFADD: a range of years has tens of thousands of hours, and no command (nor
// any Lua unpack, the reason this is not a script) may grow with it.
const unionChunk = 1000

// Distinct estimates the distinct destinations of one group over the hours
// [from, to) (Unix seconds of hour starts) joined with an exact set (e.g. the
// batch part's destinations): the hours' HyperLogLogs are merged into a
// scratch key in chunks of unionChunk, the exact members added in chunks, then
// counted, in one pipelined round trip. HyperLogLog union is a register-wise
// max, so chunking changes nothing in the estimate.
func (r *Reader) Distinct(ctx context.Context, view, group string, from, to int64, exact map[string]struct{}) (int64, error) {
	v, ok := r.views[view]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	if !v.DistinctDestinations {
		return 0, fmt.Errorf("view %s does not count distinct destinations", view)
	}
	scratch := r.keys.Scratch(strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36))
	pipe := r.rdb.Pipeline()
	pipe.Del(ctx, scratch)
	keys := make([]string, 0, unionChunk)
	mergeKeys := func() {
		if len(keys) > 0 {
			pipe.PFMerge(ctx, scratch, keys...) // scratch is one of the sources too
			keys = keys[:0]
		}
	}
	for h := flight.Hour(from * 1e6); h < to; h += 3600 {
		if keys = append(keys, r.keys.Distinct(view, group, h)); len(keys) == unionChunk {
			mergeKeys()
		}
	}
	mergeKeys()
	members := make([]any, 0, min(len(exact), unionChunk))
	addMembers := func() {
		if len(members) > 0 {
			pipe.PFAdd(ctx, scratch, members...)
			members = members[:0]
		}
	}
	for d := range exact {
		if members = append(members, d); len(members) == unionChunk {
			addMembers()
		}
	}
	addMembers()
	pipe.PExpire(ctx, scratch, time.Minute) // if this reader dies before the DEL
	count := pipe.PFCount(ctx, scratch)
	pipe.Del(ctx, scratch)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("distinct destinations of %s %s: %w", view, group, err)
	}
	return count.Val(), nil
}
