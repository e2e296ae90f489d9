package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/quarantine"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// TestQuarantineCommands lists, shows and requeues entries of the speed
// layer's quarantine list against real Redis and RabbitMQ: a misplaced event
// goes back, seq-less, into its origin's partition and leaves both lists; a
// malformed body is refused until a corrected one is given; an Arrow body is
// shown as rows.
func TestQuarantineCommands(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	conn := testenv.AMQP(t)
	prefix := testenv.Prefix(t)
	streams := topology.Streams{Prefix: prefix, Partitions: 8}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := testenv.AMQP(t).Channel(); err == nil {
			_ = streams.Delete(ch)
		}
		testenv.DeleteKeys(rdb, prefix+":*")
	})

	atl := flight.Event{ID: "f-1", Time: time.Date(2001, 1, 2, 3, 4, 0, 0, time.UTC).UnixMicro(), Origin: "ATL", Destination: "LAX",
		Delay: 12, Distance: 1946, Producer: "ops", Seq: 41}
	lax := atl
	lax.ID, lax.Origin, lax.Destination, lax.Seq = "f-2", "LAX", "ATL", 42
	arrowBody, err := wire.NewArrowEncoder("ops").Encode([]flight.Event{atl, lax})
	if err != nil {
		t.Fatal(err)
	}
	pATL := flight.Partition("ATL", streams.Partitions)
	wrong := (pATL + 1) % streams.Partitions
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := []quarantine.Entry{
		{Partition: wrong, Offset: 7, Reason: quarantine.CheckPartition(&atl, wrong, streams.Partitions), Body: quarantine.EventBody(&atl), At: at},
		{Partition: (wrong + 1) % 8, Offset: 9, Reason: "malformed JSON: unexpected end", Body: []byte(`{"id": "x", "time": "yesterday"`), At: at.Add(time.Second)},
		{Partition: (wrong + 2) % 8, Offset: 11, Reason: "row 0: delay out of range", Body: arrowBody, At: at.Add(2 * time.Second)},
	}
	// Each partition has its list; an entry is named P/I.
	name := func(i int) string { return fmt.Sprintf("%d/0", entries[i].Partition) }
	speedKey, archiveKey := keyspace.New(prefix).Quarantine, batchkeys.New(prefix).Quarantine
	for _, e := range entries {
		if err := rdb.RPush(ctx, speedKey(e.Partition), e.Encode()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The archiver quarantined the misplaced event too (its own time).
	archived := entries[0]
	archived.At = at.Add(time.Second)
	if err := rdb.RPush(ctx, archiveKey(wrong), archived.Encode()).Err(); err != nil {
		t.Fatal(err)
	}

	run := func(stdin string, args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(append(args, "--key-prefix", prefix, "--stream-prefix", prefix, "--partitions", "8",
			"--redis-url", testenv.RedisURL(t), "--amqp-url", testenv.AMQPURL(t), "--log-level", "error"))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run("", args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}

	out := mustRun("quarantine", "list")
	for _, want := range []string{"partition: origin \"ATL\" belongs to partition", `{"id":"f-1","time":"2001-01-02T03:04:00Z"`,
		"malformed JSON", `"{\"id\": \"x\", \"time\": \"yesterday\""`, "(arrow stream, ", "3 entries in the speed layer's 8 partition lists"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	for i := range entries { // listed oldest first, by name
		if !strings.Contains(out, name(i)+" ") {
			t.Errorf("list lacks entry %s:\n%s", name(i), out)
		}
	}
	if out := mustRun("quarantine", "show", name(0)); !strings.Contains(out, "\"origin\": \"ATL\",\n") || !strings.Contains(out, "offset:    7") {
		t.Errorf("show %s:\n%s", name(0), out)
	}
	if out := mustRun("quarantine", "show", name(2)); !strings.Contains(out, "0\t{\"id\":\"f-1\"") || !strings.Contains(out, "1\t{\"id\":\"f-2\"") {
		t.Errorf("show %s (arrow rows):\n%s", name(2), out)
	}
	if _, err := run("", "quarantine", "show", name(0)[:2]+"9"); err == nil || !strings.Contains(err.Error(), "no entry "+name(0)[:2]+"9") {
		t.Errorf("show %s9: %v", name(0)[:2], err)
	}
	if _, err := run("", "quarantine", "show", "9"); err == nil || !strings.Contains(err.Error(), "want the ENTRY") {
		t.Errorf("show 9 (no partition): %v", err)
	}

	// The malformed body cannot go back as it is; a corrected one can.
	if _, err := run("", "quarantine", "requeue", name(1)); err == nil || !strings.Contains(err.Error(), "does not decode") {
		t.Fatalf("requeue of a malformed body: %v", err)
	}
	fixed := lax
	fixed.ID, fixed.Seq = "x", 0
	path := filepath.Join(t.TempDir(), "fixed.json")
	if err := os.WriteFile(path, quarantine.EventBody(&fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun("quarantine", "requeue", name(1), "--body", path)
	// Entry 0, from stdin this time: the misplaced event, unchanged.
	if _, err := run(string(quarantine.EventBody(&atl)), "quarantine", "requeue", name(0), "--body", "-"); err != nil {
		t.Fatal(err)
	}

	// What is left: the Arrow entry only, in the speed list; nothing in the archiver's.
	var left []string
	for p := range streams.Partitions {
		l, err := rdb.LRange(ctx, speedKey(p), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, l...)
	}
	if len(left) != 1 || !strings.Contains(left[0], `"offset":11`) {
		t.Errorf("speed lists after requeues: %v", left)
	}
	if n, _ := rdb.LLen(ctx, archiveKey(wrong)).Result(); n != 0 {
		t.Errorf("archive list holds %d entries, want 0 (the requeued message's twin removed)", n)
	}
	// The streams: the corrected event in LAX's partition, ATL's in ATL's, seq removed.
	wantIn := map[int][]flight.Event{flight.Partition("LAX", 8): {fixed}}
	a := atl
	a.Seq = 0
	wantIn[pATL] = append(wantIn[pATL], a)
	for p := range streams.Partitions {
		msgs := testenv.ReadStream(t, conn, streams.Queue(p), 500*time.Millisecond)
		if len(msgs) != len(wantIn[p]) {
			t.Errorf("partition %d holds %d messages, want %d", p, len(msgs), len(wantIn[p]))
			continue
		}
		for i, m := range msgs {
			evs, err := wire.Decode(nil, m.ContentType, m.Body)
			if err != nil || len(evs) != 1 || evs[0] != wantIn[p][i] {
				t.Errorf("partition %d message %d: %+v %v, want %+v", p, i, evs, err, wantIn[p][i])
			}
		}
	}
}
