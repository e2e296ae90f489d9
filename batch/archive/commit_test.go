package archive

import (
	"testing"
	"time"

	keyspace "github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestCommitRetryRecognised: the commit script run again with the same
// arguments (go-redis resends a script whose reply timed out) reports that
// it applied already and changes nothing; another commit of the same cut
// (another attempt id) is refused; a commit under a lease that is not the
// partition's current one is fenced off; the progress reads back with the
// commit applied once.
func TestCommitRetryRecognised(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	ctx := t.Context()
	k := keyspace.New(prefix)
	keys := []string{k.ArchivePartition(0), k.Segments(0), k.Quarantine(0), k.ArchiveLease(0)}
	old, err := lease.Acquire(ctx, rdb, k.ArchiveLease(0), k.ArchiveFence(0), "a", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a's lease expires; b takes the partition
	g, err := lease.Acquire(ctx, rdb, k.ArchiveLease(0), k.ArchiveFence(0), "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	args := func(attempt string, g lease.Grant) []any {
		return []any{-1, 41, 1_000_000, 40, 2, 0, segment.Name{Partition: 0, First: 0, Last: 41}.String(), 0, 10, attempt,
			g.Value(), 1, "replay", "40 7-8"}
	}
	steps := []struct {
		name    string
		attempt string
		grant   lease.Grant
		want    int
	}{
		{"the previous holder's commit", "a1", old, -1},
		{"first attempt", "b1", g, 1},
		{"the same commit again", "b1", g, 2},
		{"the same cut from another attempt", "b2", g, 0},
	}
	for _, st := range steps {
		got, err := commitScript.Run(ctx, rdb, keys, args(st.attempt, st.grant)...).Int()
		if err != nil || got != st.want {
			t.Fatalf("%s: reply %d (%v), want %d", st.name, got, err, st.want)
		}
	}
	pr, err := LoadProgress(ctx, rdb, prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Offset != 41 || pr.Events != 40 || pr.Duplicates != 2 || pr.Segments != 1 ||
		pr.Seqs["replay"].String() != "40 7-8" {
		t.Fatalf("progress %+v: the commit must count once", pr)
	}
	if n := rdb.ZCard(ctx, k.Segments(0)).Val(); n != 1 {
		t.Fatalf("%d segments listed, want 1", n)
	}
}
