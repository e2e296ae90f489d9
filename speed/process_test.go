package speed_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// proc is a `tributary speed` subprocess.
type proc struct {
	id      string
	cmd     *exec.Cmd
	log     string
	metrics string // host:port
	done    chan struct{}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a worker subprocess; it is SIGKILLed at the end of the test if still running.
func (e *env) start(id string, extra ...string) *proc {
	e.t.Helper()
	p := &proc{id: id, log: filepath.Join(e.t.TempDir(), id+".log"), metrics: freeAddr(e.t), done: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		e.t.Fatal(err)
	}
	args := append([]string{"speed", "--worker-id", id, "--stream-prefix", e.streams.Prefix,
		"--partitions", fmt.Sprint(e.streams.Partitions), "--key-prefix", e.keyPrefix,
		"--flush-interval", "200ms", "--lease-ttl", "2s", "--bucket-ttl", "1h", "--metrics-addr", p.metrics}, extra...)
	p.cmd = exec.Command(testenv.Binary(e.t), args...)
	p.cmd.Env = append(os.Environ(), "TRIBUTARY_REDIS_URL="+testenv.RedisURL(e.t), "TRIBUTARY_AMQP_URL="+testenv.AMQPURL(e.t))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); out.Close(); close(p.done) }()
	e.t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.done
		if e.t.Failed() {
			b, _ := os.ReadFile(p.log)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			e.t.Logf("log of %s (tail):\n%s", id, b)
		}
	})
	return p
}

func (p *proc) logText() string { b, _ := os.ReadFile(p.log); return string(b) }

// leases returns the current holder of every partition's lease ("" when free).
func (e *env) leases() []string {
	keys := keyspace.New(e.keyPrefix)
	out := make([]string, e.streams.Partitions)
	for i := range out {
		v, _ := e.rdb.Get(context.Background(), keys.Lease(i)).Result()
		out[i], _, _ = strings.Cut(v, "|")
	}
	return out
}

// waitLeases waits until ok(holders) holds. Generous: no timing assertion.
func (e *env) waitLeases(what string, ok func([]string) bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ok(e.leases()) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s: never happened; leases %v", what, e.leases())
}

func count(hs []string, id string) int {
	n := 0
	for _, h := range hs {
		if h == id {
			n++
		}
	}
	return n
}

// publishAsync publishes rows at rate events/s in the background.
func (e *env) publishAsync(from, to int64, rate float64) func() feed.Result {
	var res feed.Result
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err = feed.Publish(context.Background(), e.conn, e.streams, feed.Options{DataPath: e.data, From: from, To: to, Batch: 500, Producer: "replay", Rate: rate})
	}()
	return func() feed.Result {
		wg.Wait()
		if err != nil {
			e.t.Fatalf("publish: %v", err)
		}
		return res
	}
}

// TestKillLoop SIGKILLs one of two worker processes again and again while the
// flights stream in: the views must still be exact.
func TestKillLoop(t *testing.T) {
	e := newEnv(t)
	e.start("a")
	b := e.start("b0")
	wait := e.publishAsync(0, rows, 40_000)
	exp, events := expected(t, e.data, rows)
	for i := 1; i <= 8; i++ {
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		_ = b.cmd.Process.Kill()
		<-b.done
		b = e.start(fmt.Sprintf("b%d", i))
	}
	res := wait()
	e.waitCommitted(res.Messages, 3*time.Minute)
	e.checkViews(exp)
	if dups, late, q := e.checkTotals(events); dups != 0 || late != 0 || q != 0 {
		t.Errorf("duplicates %d, late %d, quarantined %d: want 0", dups, late, q)
	}
}

// TestPausedWorkerIsFenced pauses a worker (SIGSTOP) until the other took its
// partitions over, then resumes it (SIGCONT): it must write nothing with its
// old leases.
func TestPausedWorkerIsFenced(t *testing.T) {
	e := newEnv(t)
	// a flushes rarely, so it certainly holds unflushed deltas when paused.
	a := e.start("a", "--flush-interval", "3s", "--max-pending-buckets", "1000000")
	e.start("b")
	e.waitLeases("a and b share the partitions", func(hs []string) bool { return count(hs, "a") == 4 && count(hs, "b") == 4 })
	wait := e.publishAsync(0, rows, 50_000)
	time.Sleep(1500 * time.Millisecond)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	e.waitLeases("b took every partition over", func(hs []string) bool { return count(hs, "b") == 8 })
	t.Logf("b held every partition %v after a was paused (lease TTL 2s)", time.Since(paused).Round(10*time.Millisecond))
	// Resume a at once: paused longer than the broker's heartbeat timeout
	// (under load, waiting for the publication took over 30 s), a would
	// find its AMQP connection closed and exit instead of rejoining.
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// a resumes, finds its leases gone or its flushes refused, rejoins, and
	// gets partitions back with new tokens.
	e.waitLeases("a rejoined", func(hs []string) bool { return count(hs, "a") == 4 })
	res := wait()
	e.waitCommitted(res.Messages, 3*time.Minute)
	text := a.logText()
	refused, lost := strings.Count(text, `msg="flush refused`), strings.Count(text, `msg="lease lost`)
	t.Logf("after SIGCONT, a: %d flushes refused, %d leases found lost", refused, lost)
	if refused+lost == 0 {
		t.Errorf("the paused worker neither had a flush refused nor found a lease lost")
	}
	exp, events := expected(t, e.data, rows)
	e.checkViews(exp)
	if dups, _, _ := e.checkTotals(events); dups != 0 {
		t.Errorf("%d duplicates, want 0", dups)
	}
}

// TestJoinAndLeave starts a third worker while flights stream in, then stops
// one (SIGTERM: hand-over): the newcomer takes its share, the leaver's
// partitions move, and the views stay exact.
func TestJoinAndLeave(t *testing.T) {
	e := newEnv(t)
	a := e.start("a")
	b := e.start("b")
	wait := e.publishAsync(0, rows, 40_000)
	time.Sleep(time.Second)
	joined := time.Now()
	e.start("c")
	e.waitLeases("c took its share", func(hs []string) bool {
		return count(hs, "c") >= 2 && count(hs, "a") >= 2 && count(hs, "b") >= 2
	})
	t.Logf("c held its share %v after it started (process start included)", time.Since(joined).Round(10*time.Millisecond))
	left := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-b.done
	e.waitLeases("b's partitions moved", func(hs []string) bool { return count(hs, "a") == 4 && count(hs, "c") == 4 })
	t.Logf("a and c held b's partitions %v after SIGTERM to b", time.Since(left).Round(10*time.Millisecond))
	res := wait()
	e.waitCommitted(res.Messages, 3*time.Minute)
	if !bytes.Contains([]byte(b.logText()), []byte("handing partition over")) {
		t.Errorf("b did not hand its partitions over")
	}
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"events_applied_total", "consumer_lag_messages", "flush_duration_seconds_bucket",
		"late_events_total", "duplicate_events_total", "quarantined_messages_total", "partitions_owned 4",
		"rebalances_total", "flush_refused_total"} {
		if !bytes.Contains(body, []byte("tributary_speed_"+name)) {
			t.Errorf("a's /metrics lacks tributary_speed_%s", name)
		}
	}
	exp, events := expected(t, e.data, rows)
	e.checkViews(exp)
	if dups, _, _ := e.checkTotals(events); dups != 0 {
		t.Errorf("%d duplicates, want 0", dups)
	}
}
