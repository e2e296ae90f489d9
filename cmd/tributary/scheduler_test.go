package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynqmon"

	"github.com/tributary-dev/tributary/internal/httpx"
	"github.com/tributary-dev/tributary/internal/pipelinetest"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/workers"
)

// TestSchedulerAPIBehindTokens: with --admin-token, the scheduler's API
// and asynqmon refuse requests without it; the read token opens the GET
// endpoints only; the client and the graph command send the token.
func TestSchedulerAPIBehindTokens(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { pipelinetest.Cleanup(rdb, prefix) })
	s, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ropt, err := redisconn.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: ropt.Asynq()})
	defer mon.Close()
	hs := httptest.NewServer(httpx.JSONNotFound(func() *http.ServeMux {
		mux := http.NewServeMux()
		api := schedulerAPI(s, mon, httpx.Tokens{Admin: "adm1n", Read: "r3ad"})
		mux.Handle("/v1/", api)
		mux.Handle("/monitoring/", api)
		return mux
	}()))
	defer hs.Close()
	ctx := context.Background()
	g := graph.New("tokens-" + prefix)
	g.Task("a", "noop", nil)
	gr, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		token       string
		read, write bool
	}{{"", false, false}, {"wrong", false, false}, {"r3ad", true, false}, {"adm1n", true, true}} {
		cli := client.New(hs.URL).WithToken(c.token)
		_, err := cli.Status(ctx, "no-such-graph")
		if c.read != errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("status with token %q: %v (read allowed: %v)", c.token, err, c.read)
		}
		if !c.read && (err == nil || !strings.Contains(err.Error(), "token")) {
			t.Errorf("status with token %q: %v, want an error about the token", c.token, err)
		}
		// No worker runs noop here: a submission that reaches the
		// scheduler is refused as invalid, one that does not as unauthorized.
		_, err = cli.Submit(ctx, gr)
		if c.write != (err == nil || errors.Is(err, graph.ErrInvalid)) {
			t.Errorf("submit with token %q: %v (write allowed: %v)", c.token, err, c.write)
		}
	}
	for _, c := range []struct {
		path string
		code int
	}{{"/monitoring/", 401}, {"/monitoring/?token=r3ad", 401}, {"/monitoring/?token=adm1n", 200}, {"/nope", 404}} {
		resp, err := http.Get(hs.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, resp.StatusCode, c.code)
		}
	}

	// The graph command sends --admin-token, or TRIBUTARY_ADMIN_TOKEN.
	for _, c := range []struct {
		args []string
		env  string
		says string
	}{
		{nil, "", "needs the read token"},
		{[]string{"--admin-token", "adm1n"}, "", "not found"},
		{nil, "adm1n", "not found"},
	} {
		t.Setenv("TRIBUTARY_ADMIN_TOKEN", c.env)
		root := newRootCmd()
		root.SetArgs(append([]string{"graph", "status", "no-such-graph", "--scheduler-url", hs.URL, "--log-level", "error"}, c.args...))
		err := root.ExecuteContext(ctx)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("graph status %v (env %q): %v, want an error saying %q", c.args, c.env, err, c.says)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8090": true, "localhost:8090": true, "[::1]:8090": true,
		"0.0.0.0:8090": false, ":8090": false, "10.0.0.5:8090": false, "bad": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}

func TestTestFunctionsOnlyOnRequest(t *testing.T) {
	for _, with := range []bool{false, true} {
		reg, err := workers.NewRegistry(workerRegistrations(with)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"fail", "flaky", "sleepsum"} {
			if _, ok := reg.Lookup(name); ok != with {
				t.Errorf("--test-functions=%v: %s registered: %v", with, name, ok)
			}
		}
		if _, ok := reg.Lookup("sum"); !ok {
			t.Errorf("--test-functions=%v: sum is missing", with)
		}
	}
}
