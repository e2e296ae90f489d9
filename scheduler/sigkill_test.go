package scheduler_test

import (
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// proc is a tributary subprocess.
type proc struct {
	cmd *exec.Cmd
	url string // scheduler replicas only
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, prefix, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	cmd.Env = append(os.Environ(), "TRIBUTARY_REDIS_URL="+testenv.RedisURL(t), "TRIBUTARY_KEY_PREFIX="+prefix, "TRIBUTARY_LOG_LEVEL=info")
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log:\n%s", name, b)
		}
	})
	return p
}

func startScheduler(t *testing.T, prefix, name string) *proc {
	addr := freeAddr(t)
	p := start(t, prefix, name, "scheduler", "--http-addr", addr, "--lease-ttl", "2s", "--sweep-interval", "500ms", "--task-retries", "2")
	p.url = "http://" + addr
	return p
}

func startWorker(t *testing.T, prefix, name string) *proc {
	return start(t, prefix, name, "worker", "--test-functions", "--metrics-addr", "", "--concurrency", "4", "--heartbeat", "500ms", "--id", name)
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// slowGraph: 8 const leaves, 4 slow sums of two leaves each, a final sum.
// The result is 0+1+...+7 = 28 (+100 per slow task: its argument is a sleep).
func slowGraph(t *testing.T, sleep string) *graph.Graph {
	b := graph.New("slow-" + sleep)
	leaves := b.Generate("leaf", "const", 8, func(i int) any { return strconv.Itoa(i) })
	var mids []string
	for i := 0; i < 4; i++ {
		mids = append(mids, b.Task("mid-"+strconv.Itoa(i), "sleepsum", sleep, leaves[2*i], leaves[2*i+1]))
	}
	b.Task("root", "sum", nil, mids...)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func waitReady(t *testing.T, c *client.Client) {
	waitFor(t, 30*time.Second, func() bool {
		_, _, _, err := c.Leader(context.Background())
		return err == nil
	})
}

func submitWhenWorkersUp(t *testing.T, c *client.Client, g *graph.Graph) string {
	t.Helper()
	var id string
	waitFor(t, 30*time.Second, func() bool {
		res, err := c.Submit(context.Background(), g)
		if err != nil {
			return false // no live worker yet: unknown functions
		}
		id = res.ID
		return true
	})
	return id
}

// waitAllMidsRunning waits until the four slow tasks of slowGraph are
// recorded as running on worker, and returns their keys: killing the worker
// then leaves tasks that the sweeper must re-dispatch (none of them is in
// the gap between asynq's dequeue and the recorded start, see doc.go).
func waitAllMidsRunning(t *testing.T, rdb redis.UniversalClient, prefix, id, worker string) []string {
	t.Helper()
	var keys []string
	waitFor(t, 30*time.Second, func() bool {
		r, err := rdb.HGetAll(context.Background(), prefix+":{"+prefix+"}:graph:"+id+":running").Result()
		if err != nil || len(r) != 4 {
			return false
		}
		keys = keys[:0]
		for k, w := range r {
			if w != worker {
				return false
			}
			keys = append(keys, k)
		}
		return true
	})
	slices.Sort(keys)
	return keys
}

func checkResult(t *testing.T, c *client.Client, id string) {
	t.Helper()
	// Bounded by asynq's lease recovery (90 s) should the re-dispatch fail;
	// checkRedispatched then fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := c.Wait(ctx, id, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != scheduler.GraphDone || st.Done != st.Total {
		t.Fatalf("graph %+v: want done", st)
	}
	b, err := c.Result(ctx, "root")
	if err != nil || string(b) != "28" {
		t.Fatalf("root = %q (%v), want 28", b, err)
	}
}

// TestWorkerSIGKILL: a worker killed mid-task; its tasks run again on
// another worker and the graph completes with the right result.
func TestWorkerSIGKILL(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { cleanup(rdb, prefix) })
	s := startScheduler(t, prefix, "scheduler")
	c := client.New(s.url)
	waitReady(t, c)
	w1 := startWorker(t, prefix, "worker-1")
	id := submitWhenWorkersUp(t, c, slowGraph(t, "3s"))
	lost := waitAllMidsRunning(t, rdb, prefix, id, "worker-1")
	w1.kill(t)
	startWorker(t, prefix, "worker-2")
	checkResult(t, c, id)
	checkRedispatched(t, rdb, prefix, id, lost)
}

// checkRedispatched asserts that the sweeper re-dispatched exactly the lost
// tasks, once each (attempt 1): the recovery came from the re-dispatch, not
// from asynq's own lease expiry, and nothing else was dispatched again.
func checkRedispatched(t *testing.T, rdb redis.UniversalClient, prefix, id string, lost []string) {
	t.Helper()
	att, err := rdb.HGetAll(context.Background(), prefix+":{"+prefix+"}:graph:"+id+":attempt").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string, len(lost))
	for _, k := range lost {
		want[k] = "1"
	}
	if !maps.Equal(att, want) {
		t.Fatalf("re-dispatched %v, want each of the lost tasks %v once", att, lost)
	}
}

// TestSchedulerSIGKILL: two scheduler replicas; the leader is killed mid-graph
// together with the worker running its tasks; the standby takes over the
// lease within seconds, its sweeper re-dispatches the dead worker's tasks,
// and the graph completes with the right result.
func TestSchedulerSIGKILL(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { cleanup(rdb, prefix) })
	a := startScheduler(t, prefix, "scheduler-a")
	b := startScheduler(t, prefix, "scheduler-b")
	ca, cb := client.New(a.url), client.New(b.url)
	waitReady(t, ca)
	waitReady(t, cb)
	var leader, standby *proc
	var cl, cs *client.Client
	waitFor(t, 10*time.Second, func() bool {
		_, _, la, _ := ca.Leader(context.Background())
		_, _, lb, _ := cb.Leader(context.Background())
		switch {
		case la && !lb:
			leader, standby, cl, cs = a, b, ca, cb
		case lb && !la:
			leader, standby, cl, cs = b, a, cb, ca
		default:
			return false
		}
		return true
	})
	_ = standby
	w1 := startWorker(t, prefix, "worker-1")
	id := submitWhenWorkersUp(t, cl, slowGraph(t, "4s"))
	lost := waitAllMidsRunning(t, rdb, prefix, id, "worker-1")
	leader.kill(t)
	w1.kill(t)
	killed := time.Now()
	startWorker(t, prefix, "worker-2")
	waitFor(t, 20*time.Second, func() bool {
		_, _, is, err := cs.Leader(context.Background())
		return err == nil && is
	})
	t.Logf("standby leads %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	checkResult(t, cs, id)
	checkRedispatched(t, rdb, prefix, id, lost)
}

// TestWorkerSIGKILLMidChunk: a worker killed while it runs chunks (its 6
// independent roots, on 4 slots, go as 3 chunks of 2: one const and one
// 5 s sleep each): the members it completed stay done and are not run
// again, the members it was running are re-dispatched alone, once each,
// and run on another worker; the graph completes with the exact result
// and every task counted once.
func TestWorkerSIGKILLMidChunk(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { cleanup(rdb, prefix) })
	s := startScheduler(t, prefix, "scheduler")
	c := client.New(s.url)
	waitReady(t, c)
	w1 := startWorker(t, prefix, "worker-1")
	b := graph.New("chunk-sigkill")
	var roots, fast, slow []string
	for i := range 3 {
		fast = append(fast, b.Task("const-"+strconv.Itoa(i), "const", strconv.Itoa(i+1)))
		slow = append(slow, b.Task("sleep-"+strconv.Itoa(i), "sleepsum", "5s"))
		roots = append(roots, fast[i], slow[i])
	}
	b.Task("root", "sum", nil, roots...)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	id := submitWhenWorkersUp(t, c, g)
	base := prefix + ":{" + prefix + "}:graph:" + id
	waitFor(t, 30*time.Second, func() bool {
		st, err := rdb.HMGet(context.Background(), base+":state", append(slices.Clone(fast), slow...)...).Result()
		if err != nil {
			return false
		}
		for i, v := range st {
			if want := map[bool]string{true: "d", false: "r"}[i < len(fast)]; v != want {
				return false
			}
		}
		return true
	})
	run, err := rdb.HGetAll(context.Background(), base+":running").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range slow {
		if w, chunk := scheduler.ParseRunner(run[k]); w != "worker-1" || !strings.HasSuffix(chunk, taskq.ChunkSuffix) {
			t.Fatalf("runner of %s = %q, want worker-1 in a chunk", k, run[k])
		}
	}
	w1.kill(t)
	startWorker(t, prefix, "worker-2")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := c.Wait(ctx, id, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != scheduler.GraphDone || st.Done != st.Total {
		t.Fatalf("graph %+v: want done", st)
	}
	if r, err := c.Result(ctx, "root"); err != nil || string(r) != "6" {
		t.Fatalf("root = %q (%v), want 6", r, err)
	}
	checkRedispatched(t, rdb, prefix, id, slow)
	if n, err := rdb.HGet(ctx, prefix+":{"+prefix+"}:stats", "tasks_done").Int(); err != nil || n != len(g.Tasks) {
		t.Fatalf("tasks_done = %d (%v), want %d: each task counted once", n, err, len(g.Tasks))
	}
}
