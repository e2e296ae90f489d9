package batchtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/batchkeys"
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

// TestTwoArchiversOneKilled: two `tributary archive` processes share the
// partitions with leases; one is SIGKILLed mid-way; the survivor takes its
// partitions once their leases lapse (2 s here) and the committed segments
// hold every event exactly once. A stopped archiver exits within 3 s of
// SIGTERM and hands its partitions over at once.
func TestTwoArchiversOneKilled(t *testing.T) {
	e := newEnv(t)
	bin := testenv.Binary(t)
	const n = 100_000
	a := startArchive(t, e, bin, "--archiver-id", "a", "--lease-ttl", "2s")
	aKilled := false
	defer func() {
		if !aKilled {
			_ = a.Process.Signal(syscall.SIGKILL)
			_ = a.Wait()
		}
	}()
	b := startArchive(t, e, bin, "--archiver-id", "b", "--lease-ttl", "2s")
	bDone := false
	defer func() {
		if !bDone {
			_ = b.Process.Signal(syscall.SIGKILL)
			_ = b.Wait()
		}
	}()
	holders := func() map[string]int {
		out := map[string]int{}
		for p := range e.streams.Partitions {
			v, _ := e.rdb.Get(t.Context(), batchkeys.New(e.prefix).ArchiveLease(p)).Result()
			owner, _, _ := strings.Cut(v, "|")
			out[owner]++
		}
		return out
	}
	half := e.streams.Partitions / 2
	waitFor(t, time.Minute, "both archivers hold half of the partitions", func() bool {
		h := holders()
		return h["a"] == half && h["b"] == e.streams.Partitions-half
	})
	e.feed(0, n/2, "replay")
	waitFor(t, 2*time.Minute, "25,000 events archived", func() bool { return archivedEvents(t, e) >= n/4 })
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	aKilled = true
	killed := time.Now()
	waitFor(t, time.Minute, "b holds every partition", func() bool { return holders()["b"] == e.streams.Partitions })
	t.Logf("b took a's partitions %v after the SIGKILL (lease TTL 2 s)", time.Since(killed).Round(time.Millisecond))
	e.feed(n/2, n, "replay")
	e.feed(10_000, 20_000, "replay") // duplicates
	st := e.waitArchived(n)
	checkExactlyOnce(t, e, st, n)

	// A graceful stop: b exits within 3 s of SIGTERM and gives its leases back.
	c := startArchive(t, e, bin, "--archiver-id", "c", "--lease-ttl", "2s")
	defer func() { _ = c.Process.Signal(syscall.SIGKILL); _ = c.Wait() }()
	waitFor(t, time.Minute, "c holds half of the partitions", func() bool { return holders()["c"] == half })
	if err := b.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- b.Wait() }()
	select {
	case err := <-stopped:
		bDone = true
		if err != nil {
			t.Fatalf("b exited with %v after SIGTERM", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("b did not exit within 3 s of SIGTERM")
	}
	waitFor(t, time.Minute, "c holds every partition", func() bool { return holders()["c"] == e.streams.Partitions })
	e.feed(n, n+10_000, "replay")
	checkExactlyOnce(t, e, e.waitArchived(n+10_000), n+10_000)
}

// startArchive starts `tributary archive` on e's streams and store.
func startArchive(t *testing.T, e *env, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"archive", "--key-prefix", e.prefix, "--stream-prefix", e.streams.Prefix,
		"--partitions", fmt.Sprint(e.streams.Partitions), "--store", e.storeDir, "--segment-events", "3000",
		"--segment-interval", "200ms", "--metrics-addr", "", "--log-level", "warn"}, args...)...)
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
