package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dedup"
	"github.com/tributary-dev/tributary/ingest/quarantine"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

//go:embed flush.lua
var flushSource string

// ErrRefused is wrapped by the error of a flush that the script refused
// because the writer lost its lease or is behind a newer writer.
var ErrRefused = errors.New("flush refused")

// maxMembers bounds the values of one HSET/RPUSH in the script (Lua's
// unpack has a stack limit of about 8,000 values).
const maxMembers = 1000

// QuarantineCap bounds the quarantine list: the newest entries are kept.
const QuarantineCap = 100_000

// Writer flushes partitions. It is safe for concurrent use.
type Writer struct {
	rdb    redis.Cmdable
	keys   keyspace.Keys
	views  []flight.View
	script *redis.Script
	ttl    time.Duration
}

// NewWriter returns a writer for the views, giving every bucket key a TTL
// when bucketTTL > 0.
func NewWriter(rdb redis.Cmdable, keys keyspace.Keys, views []flight.View, bucketTTL time.Duration) *Writer {
	return &Writer{rdb: rdb, keys: keys, views: views, script: redis.NewScript(flushSource), ttl: bucketTTL}
}

// Flush is one partition's flush.
type Flush struct {
	Partition int
	// Lease is "<worker>|<token>", the value the lease key must hold.
	Lease string
	Token int64
	// LeaseTTL, when > 0, is the lease's new TTL once the flush committed.
	LeaseTTL time.Duration
	// State holds the absolute content of the partition's buckets, kept by
	// the partition's owner across flushes. nil: a fresh one (every bucket
	// loaded from Redis).
	State *State
	agg.Pending
}

// QuarantineEntry is one quarantined message, in ingest/quarantine's format.
type QuarantineEntry = quarantine.Entry

// Flush writes f in one script call: the pending deltas are merged into the
// owner's State (buckets it does not hold yet are loaded first, in one
// pipelined round trip) and the buckets' new absolute states are written. A
// refusal returns an error wrapping ErrRefused; any other error leaves it
// unknown whether the flush was applied (the caller must reload the committed
// progress). After any error the State is emptied: it is reloaded from Redis,
// the truth, on the next flush.
func (w *Writer) Flush(ctx context.Context, f *Flush) error {
	st := f.State
	if st == nil {
		st = NewState()
	}
	if err := w.flush(ctx, f, st); err != nil {
		st.Reset()
		return err
	}
	return nil
}

func (w *Writer) flush(ctx context.Context, f *Flush, st *State) error {
	if err := st.load(ctx, w.rdb, w.keys, f.Partition, w.views, f.Buckets, f.PrevMaxTime); err != nil {
		return fmt.Errorf("flush partition %d: %w", f.Partition, err)
	}
	keys, args, err := w.build(f, st)
	if err != nil {
		return fmt.Errorf("flush partition %d: %w", f.Partition, err)
	}
	res, err := w.script.Run(ctx, w.rdb, keys, args...).Slice()
	if err != nil {
		return fmt.Errorf("flush partition %d: %w", f.Partition, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("flush partition %d: unexpected reply %v", f.Partition, res)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		return fmt.Errorf("flush partition %d: %w: %v", f.Partition, ErrRefused, res[1])
	}
	if res[1] == "already applied" {
		// A retry of a flush whose reply was lost: st was loaded after the
		// first application and merged the deltas again. Redis holds the
		// truth: reload from it.
		st.Reset()
	}
	return nil
}

// build merges the deltas into st and lays out the script's arguments:
//
//	ARGV[1] lease value, [2] token, [3] expected committed offset (-1: none),
//	[4] new offset, [5] maxtime, [6] bucket TTL ms (0: none), [7] quarantine cap,
//	[8..11] applied, late, duplicates, quarantined increments,
//	[12] number of seqs, [13] lease TTL ms (0: leave it), [14] lowest event time
//	applied (µs, 0: none), then producer/seq pairs, then ops:
//	V key hour n {group packed}...  (HSET of n fields of the hash of
//	                             an hour (Unix s); the last chunk of a
//	                             hash also sets its keyspace.FieldDigest
//	                             when known)
//	Q key n entry...            (RPUSH, capped)
//
// Every "key" is an index into KEYS.
func (w *Writer) build(f *Flush, st *State) ([]string, []any, error) {
	keys := []string{w.keys.Lease(f.Partition), w.keys.Partition(f.Partition), w.keys.Quarantine(f.Partition)}
	c := f.Counters
	args := []any{f.Lease, f.Token, f.PrevOffset, f.Offset, f.MaxTime, w.ttl.Milliseconds(), QuarantineCap,
		c.Applied, c.Late, c.Duplicates, c.Quarantined, len(f.Seqs), f.LeaseTTL.Milliseconds(), f.MinTime}
	for p, s := range f.Seqs {
		args = append(args, p, s.String())
	}
	keyIndex := func(k string) int {
		keys = append(keys, k)
		return len(keys)
	}
	// The buckets' packed states per hour hash.
	type vh struct {
		view int
		hour int64
	}
	fields := map[vh][]any{}
	// Every packed value is a slice of one buffer, kept in st for the
	// next flushes: a buffer per bucket was a few allocations each.
	buf := st.buf[:0]
	for i := range st.touched {
		t := &st.touched[i]
		b, old, err := st.merged(t, w.views[t.id.View])
		if err != nil {
			return nil, nil, err
		}
		st.updateDigest(t.id, old, hash(t.id.Group, b))
		start := len(buf)
		buf = b.pack(buf)
		// Growing buf moves it, not the bytes earlier values point to.
		packed := buf[start:len(buf):len(buf)]
		switch {
		case f.Watermark <= 0 || (t.id.Hour+3600)*1e6 > f.Watermark:
			st.buckets[t.id] = string(packed)
		case t.held:
			// An hour that ends at or before the watermark once committed:
			// State.Evict would drop it right after, so it is not kept (a
			// partition catching up writes thousands of buckets per flush,
			// nearly all in such hours).
			delete(st.buckets, t.id)
		}
		k := vh{t.id.View, t.id.Hour}
		fields[k] = append(fields[k], t.id.Group, packed)
	}
	st.buf = buf
	for k, fv := range fields {
		// The hour hash's digest, in the same HSET as its buckets.
		if d, ok := st.digest(k.view, k.hour); ok {
			fv = append(fv, keyspace.FieldDigest, d)
		}
		if f.Watermark > 0 && (k.hour+3600)*1e6 <= f.Watermark {
			// Not kept, like the hour's buckets: a later flush into it
			// (a gap filled) reads the digest again.
			delete(st.hours, hourID(k))
		}
		key := w.keys.Hour(f.Partition, w.views[k.view].Name, k.hour)
		for len(fv) > 0 {
			n := min(len(fv), maxMembers)
			args = append(args, "V", keyIndex(key), n/2, k.hour)
			args = append(args, fv[:n]...)
			fv = fv[n:]
		}
	}
	if len(f.Quarantine) > 0 {
		now := time.Now().UTC()
		entries := make([]any, 0, len(f.Quarantine))
		for _, q := range f.Quarantine {
			e := quarantine.Entry{Partition: f.Partition, Offset: q.Offset, Reason: q.Reason, Body: q.Body, At: now}
			entries = append(entries, e.Encode())
		}
		for len(entries) > 0 {
			n := min(len(entries), maxMembers)
			args = append(args, "Q", keyIndex(w.keys.Quarantine(f.Partition)), n)
			args = append(args, entries[:n]...)
			entries = entries[n:]
		}
	}
	return keys, args, nil
}

// Load returns partition p's committed progress.
func Load(ctx context.Context, rdb redis.Cmdable, keys keyspace.Keys, p int) (agg.Progress, error) {
	m, err := rdb.HGetAll(ctx, keys.Partition(p)).Result()
	if err != nil {
		return agg.Progress{}, fmt.Errorf("load partition %d: %w", p, err)
	}
	st, err := parseProgress(m)
	if err != nil {
		return agg.Progress{}, fmt.Errorf("load partition %d: %w", p, err)
	}
	return st.Progress, nil
}

// PartitionState is a partition's committed progress and totals.
type PartitionState struct {
	agg.Progress
	// MinTime is the lowest event time (µs) ever applied, 0 when none: with
	// MaxTime it bounds the hours the speed views hold for the partition.
	MinTime                                int64
	Token                                  int64
	Applied, Late, Duplicates, Quarantined int64
}

func parseProgress(m map[string]string) (PartitionState, error) {
	st := PartitionState{Progress: agg.Progress{Offset: -1, Seqs: map[string]dedup.Mark{}}}
	ints := map[string]*int64{
		keyspace.FieldOffset: &st.Offset, keyspace.FieldMaxTime: &st.MaxTime, keyspace.FieldMinTime: &st.MinTime, keyspace.FieldToken: &st.Token,
		keyspace.FieldApplied: &st.Applied, keyspace.FieldLate: &st.Late,
		keyspace.FieldDuplicates: &st.Duplicates, keyspace.FieldQuarantined: &st.Quarantined,
	}
	for k, v := range m {
		if dst, ok := ints[k]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("field %s=%q: %w", k, v, err)
			}
			*dst = n
			continue
		}
		if prod, ok := strings.CutPrefix(k, keyspace.SeqPrefix); ok {
			m, err := dedup.ParseMark(v)
			if err != nil {
				return st, fmt.Errorf("field %s: %w", k, err)
			}
			st.Seqs[prod] = m
		}
	}
	return st, nil
}

// DecodeQuarantine parses one quarantine list entry.
func DecodeQuarantine(s string) (QuarantineEntry, error) { return quarantine.Decode(s) }
