package batchtest

import (
	"fmt"
	amqp "github.com/rabbitmq/amqp091-go"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestArchiverSIGKILL kills `tributary archive` (a real subprocess) twice
// while it archives 100,000 flights plus 10,000 duplicates, and checks that
// the committed segments hold every event exactly once.
func TestArchiverSIGKILL(t *testing.T) {
	e := newEnv(t)
	bin := testenv.Binary(t)
	const n = 100_000
	e.feed(0, n, "replay")
	e.feed(40_000, 50_000, "replay")                                  // same (producer, seq): duplicates
	publishRaw(t, e, 0, "application/json", []byte(`{"id": "broken`)) // malformed: quarantined
	start := func() *exec.Cmd { return startArchive(t, e, bin) }
	archived := func() int64 { return archivedEvents(t, e) }
	for _, at := range []int64{25_000, 60_000} {
		cmd := start()
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d events archived", at), func() bool { return archived() >= at })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("SIGKILLed the archiver at %d archived events", archived())
	}
	cmd := start()
	defer func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }()
	st := e.waitArchived(n)
	var dups int64
	for _, p := range st.Partitions {
		dups += p.Duplicates
	}
	if dups < 10_000 {
		// Duplicates dropped before a kill and consumed again count twice;
		// never fewer than the 10,000 published.
		t.Fatalf("%d duplicates dropped, want at least 10,000", dups)
	}
	if q := st.Partitions[0].Quarantined; q != 1 {
		t.Fatalf("partition 0 quarantined %d messages, want 1", q)
	}
	checkExactlyOnce(t, e, st, n)
	t.Logf("%d events archived exactly once in %d committed segments; %d duplicates dropped", n, countSegments(st), dups)
}

// startArchive starts `tributary archive` on e's streams and store.
func startArchive(t *testing.T, e *env, bin string) *exec.Cmd {
	cmd := exec.Command(bin, "archive", "--key-prefix", e.prefix, "--stream-prefix", e.streams.Prefix,
		"--partitions", fmt.Sprint(e.streams.Partitions), "--store", e.storeDir, "--segment-events", "3000",
		"--segment-interval", "200ms", "--metrics-addr", "", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "TRIBUTARY_REDIS_URL="+testenv.RedisURL(t), "TRIBUTARY_AMQP_URL="+testenv.AMQPURL(t))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// archivedEvents is the number of events committed over every partition,
// 0 until the archive has state.
func archivedEvents(t *testing.T, e *env) int64 {
	st, err := archive.ReadState(t.Context(), e.rdb, e.prefix)
	if err != nil {
		return 0
	}
	var total int64
	for _, p := range st.Partitions {
		total += p.Events
	}
	return total
}

// checkExactlyOnce reads the committed segments back and checks that they
// hold rows [0, n) each exactly once, in their partition, and as many
// events as committed.
func checkExactlyOnce(t *testing.T, e *env, st *archive.State, n int) {
	byPart := segmentEvents(t, e.storeDir, st)
	seen := map[string]bool{}
	for p, evs := range byPart {
		seqs := map[string]bool{}
		for _, ev := range evs {
			k := fmt.Sprintf("%s/%d", ev.Producer, ev.Seq)
			if seqs[k] {
				t.Fatalf("partition %d stores (producer, seq) %s twice", p, k)
			}
			seqs[k] = true
			if seen[ev.ID] {
				t.Fatalf("event %s stored twice", ev.ID)
			}
			seen[ev.ID] = true
			if got := e.streams.PartitionOf(ev.Origin); got != p {
				t.Fatalf("event %s of partition %d stored in %d", ev.ID, got, p)
			}
		}
		if int64(len(evs)) != st.Partitions[p].Events {
			t.Fatalf("partition %d: %d events in segments, %d committed", p, len(evs), st.Partitions[p].Events)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events archived, want %d", len(seen), n)
	}
	for i := range int64(n) {
		if !seen[fmt.Sprintf("f3m-%07d", i)] {
			t.Fatalf("row %d lost", i)
		}
	}
}

func countSegments(st *archive.State) int {
	n := 0
	for _, p := range st.Partitions {
		n += len(p.Names)
	}
	return n
}

func publishRaw(t *testing.T, e *env, p int, contentType string, body []byte) {
	t.Helper()
	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Publish("", e.streams.Queue(p), false, false, amqp.Publishing{ContentType: contentType, Body: body}); err != nil {
		t.Fatal(err)
	}
}
