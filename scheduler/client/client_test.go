package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/pipelinetest"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

// deadURL is an HTTP base URL where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// replica is one scheduler replica with its HTTP API.
type replica struct {
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *replica) kill() {
	r.srv.CloseClientConnections()
	r.srv.Close()
	r.cancel()
	<-r.done
}

// TestWaitRidesOutSchedulerDeath: the client is given a dead replica and two
// live ones; the replica answering dies while a graph runs, and Wait still
// returns the graph done (the other replica leads and answers).
func TestWaitRidesOutSchedulerDeath(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { pipelinetest.Cleanup(rdb, prefix) })
	reg, err := workers.NewRegistry(builtin.Register)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: 4}, reg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	var reps []*replica
	for i := 0; i < 2; i++ {
		s, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, LeaseTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(ctx)
		r := &replica{cancel: rcancel, done: make(chan struct{})}
		go func() { defer close(r.done); _ = s.Run(rctx) }()
		mux := http.NewServeMux()
		s.Register(mux)
		r.srv = httptest.NewServer(mux)
		reps = append(reps, r)
	}
	defer func() {
		for _, r := range reps[1:] {
			r.kill()
		}
	}()

	cli := client.New(strings.Join([]string{deadURL(t), reps[0].srv.URL, reps[1].srv.URL}, ", "))
	b := graph.New("failover")
	a := b.Task(prefix+"/a", "const", "5")
	var leaves []string
	for i := 0; i < 6; i++ {
		leaves = append(leaves, b.Task(prefix+"/s"+string(rune('0'+i)), "sleepsum", "400ms", a))
	}
	b.Task(prefix+"/total", "sum", nil, leaves...)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	// The worker advertises its functions from its heartbeat loop: until its
	// first beat, a submission is refused as naming unknown functions.
	var res *scheduler.Submitted
	for {
		res, err = cli.Submit(wctx, g)
		if err == nil || !strings.Contains(err.Error(), "no live worker") || wctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("submit past a dead replica: %v", err)
	}
	polls := 0
	st, err := cli.Wait(wctx, res.ID, 20*time.Millisecond, func(*scheduler.Status) {
		polls++
		if polls == 5 {
			reps[0].kill() // the replica that answered so far
		}
	})
	if err != nil {
		t.Fatalf("wait across a scheduler's death: %v", err)
	}
	if polls < 5 {
		t.Fatalf("the graph finished after %d polls, before the replica died: make it longer", polls)
	}
	if st.State != scheduler.GraphDone || st.Done != int64(len(g.Tasks)) {
		t.Fatalf("status %+v, want done", st)
	}
	b2, err := cli.Result(wctx, prefix+"/total")
	if err != nil || string(b2) != "30" {
		t.Fatalf("result %q %v, want 30", b2, err)
	}
}

// TestNoReplicaAnswers: with every replica dead, a request fails after the
// client's patience, naming the cause.
func TestNoReplicaAnswers(t *testing.T) {
	cli := client.New(deadURL(t) + "," + deadURL(t))
	cli.Patience = 300 * time.Millisecond
	start := time.Now()
	_, err := cli.Status(context.Background(), "g")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("status with no replica: %v, want a dial error", err)
	}
	if time.Since(start) < cli.Patience {
		t.Fatalf("gave up after %v, before its patience", time.Since(start))
	}
}
