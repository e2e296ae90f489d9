package archive

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	keyspace "github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/ingest/dedup"
)

// Progress is a partition's committed archive progress.
type Progress struct {
	Partition int
	// Offset is the last archived stream offset, -1 when none.
	Offset int64
	// MaxTime is the highest event time archived (µs), 0 when none: the
	// partition is complete up to it.
	MaxTime                                   int64
	Events, Segments, Duplicates, Quarantined int64
	// Seqs is each producer's dedup mark.
	Seqs map[string]dedup.Mark
	// Names are the committed segments, in offset order.
	Names []segment.Name
}

// State is what the archive holds.
type State struct {
	// StoreURL is where the segments are (as the archiver was given it).
	StoreURL   string
	Partitions []Progress
}

// ErrNoArchive says that no archiver ever ran under the key prefix.
var ErrNoArchive = errors.New("no archive under this key prefix (run `tributary archive`)")

// ReadState reads the archive's committed state: every partition's progress
// and committed segments.
func ReadState(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (*State, error) {
	k := keyspace.New(keyPrefix)
	meta, err := rdb.HGetAll(ctx, k.ArchiveMeta()).Result()
	if err != nil {
		return nil, fmt.Errorf("archive state: %w", err)
	}
	if len(meta) == 0 {
		return nil, ErrNoArchive
	}
	n, err := strconv.Atoi(meta[keyspace.FieldPartitions])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("archive state: bad partitions %q", meta[keyspace.FieldPartitions])
	}
	st := &State{StoreURL: meta[keyspace.FieldStore]}
	pipe := rdb.Pipeline()
	parts := make([]*redis.MapStringStringCmd, n)
	segs := make([]*redis.StringSliceCmd, n)
	for p := range n {
		parts[p] = pipe.HGetAll(ctx, k.ArchivePartition(p))
		segs[p] = pipe.ZRange(ctx, k.Segments(p), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("archive state: %w", err)
	}
	for p := range n {
		pr, err := parseProgress(p, parts[p].Val())
		if err != nil {
			return nil, err
		}
		for _, s := range segs[p].Val() {
			name, err := segment.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("archive state: partition %d: %w", p, err)
			}
			pr.Names = append(pr.Names, name)
		}
		st.Partitions = append(st.Partitions, pr)
	}
	return st, nil
}

// LoadProgress reads one partition's committed progress (without its segments).
func LoadProgress(ctx context.Context, rdb redis.Cmdable, keyPrefix string, p int) (Progress, error) {
	m, err := rdb.HGetAll(ctx, keyspace.New(keyPrefix).ArchivePartition(p)).Result()
	if err != nil {
		return Progress{}, fmt.Errorf("archive progress of partition %d: %w", p, err)
	}
	return parseProgress(p, m)
}

func parseProgress(p int, m map[string]string) (Progress, error) {
	pr := Progress{Partition: p, Offset: -1, Seqs: map[string]dedup.Mark{}}
	for k, v := range m {
		if prod, ok := strings.CutPrefix(k, keyspace.SeqPrefix); ok {
			mk, err := dedup.ParseMark(v)
			if err != nil {
				return pr, fmt.Errorf("archive partition %d: seq of %q: %w", p, prod, err)
			}
			pr.Seqs[prod] = mk
			continue
		}
		if k == keyspace.FieldCommit {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return pr, fmt.Errorf("archive partition %d: field %s=%q: %w", p, k, v, err)
		}
		switch k {
		case keyspace.FieldOffset:
			pr.Offset = n
		case keyspace.FieldMaxTime:
			pr.MaxTime = n
		case keyspace.FieldEvents:
			pr.Events = n
		case keyspace.FieldSegments:
			pr.Segments = n
		case keyspace.FieldDuplicates:
			pr.Duplicates = n
		case keyspace.FieldQuarantined:
			pr.Quarantined = n
		}
	}
	return pr, nil
}

// Boundary is the batch layer's time boundary (Unix seconds of an hour
// start): the lowest "complete up to" event time over the partitions that
// archived anything, truncated down to the hour. The batch views cover the
// hours strictly before it. 0 when nothing is archived. Partitions without
// any event are left out, or one idle partition would hold everything back.
func (s *State) Boundary() int64 {
	var b int64
	for _, p := range s.Partitions {
		if p.MaxTime == 0 {
			continue
		}
		if h := hourOf(p.MaxTime); b == 0 || h < b {
			b = h
		}
	}
	return b
}

func hourOf(us int64) int64 {
	s := us / 1e6
	return s - s%3600
}

//go:embed commit.lua
var commitLua string

// commitScript commits one cut; commit.lua's header documents its KEYS,
// ARGV and replies.
var commitScript = redis.NewScript(commitLua)

// commitAttempt is a random id per commit, recorded with the offset, by
// which the script recognises a retry of a commit that already applied.
func commitAttempt() string { return rand.Text() }
