package state

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the generated lua/transitions.lua")

// TestTransitionsLuaUpToDate fails when lua/transitions.lua is not what
// machine.go generates (run `go test ./scheduler/internal/state -run
// TestTransitionsLuaUpToDate -update` after changing the table).
func TestTransitionsLuaUpToDate(t *testing.T) {
	want := TransitionsLua()
	if *update {
		if err := os.WriteFile("lua/transitions.lua", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := lua("transitions.lua"); got != want {
		t.Fatalf("lua/transitions.lua is stale: rerun this test with -update\n--- embedded:\n%s\n--- generated:\n%s", got, want)
	}
}

// transitionHarness applies one event through the prelude's transition
// helper, the one every script uses, and reports a refusal as an error.
var transitionHarness = redis.NewScript(lua("transitions.lua") + `
local r = transition(KEYS[1], ARGV[1], ARGV[2])
if not r then return redis.error_reply('refused') end
return r
`)

// TestEveryTransition checks every (state, event) pair, against a table
// written out here independently of machine.go, in Go (Next) and in the Lua
// that the scripts run, on a real Redis: an allowed pair moves the task to
// the expected state, a refused one leaves it unchanged and is an error.
func TestEveryTransition(t *testing.T) {
	allowed := map[TaskState]map[Event]TaskState{
		Waiting: {Ready: Queued, Cancel: Cancelled},
		Queued:  {Start: Running, Complete: Done, Fail: Failed, Cancel: Cancelled},
		Running: {Start: Running, Complete: Done, Fail: Failed, Redispatch: Queued},
		// Done, Failed and Cancelled are final: nothing is allowed.
	}
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + ":transitions"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	pairs := 0
	for _, from := range TaskStates {
		for _, ev := range Events {
			pairs++
			want, ok := allowed[from][ev]
			t.Run(string(from)+"/"+string(ev), func(t *testing.T) {
				got, err := Next(from, ev)
				switch {
				case ok && (err != nil || got != want):
					t.Errorf("Go: Next = %s, %v; want %s", got, err, want)
				case !ok && (!errors.Is(err, ErrRefused) || got != from):
					t.Errorf("Go: Next = %s, %v; want %s unchanged and ErrRefused", got, err, from)
				}
				if err := rdb.HSet(ctx, key, "task", from.Code()).Err(); err != nil {
					t.Fatal(err)
				}
				res, err := transitionHarness.Run(ctx, rdb, []string{key}, "task", string(ev)).Text()
				stored, herr := rdb.HGet(ctx, key, "task").Result()
				if herr != nil {
					t.Fatal(herr)
				}
				switch {
				case ok && (err != nil || res != want.Code() || stored != want.Code()):
					t.Errorf("Lua: %q, %v, stored %q; want %q", res, err, stored, want.Code())
				case !ok && (err == nil || !strings.HasSuffix(err.Error(), "refused") || stored != from.Code()):
					t.Errorf("Lua: %q, %v, stored %q; want refused and %q unchanged", res, err, stored, from.Code())
				}
			})
		}
	}
	if pairs != 36 {
		t.Fatalf("%d pairs checked, want 6 states x 6 events", pairs)
	}
}

// TestStateCodes: the stored codes are distinct and decode back.
func TestStateCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range TaskStates {
		c := s.Code()
		if len(c) != 1 || seen[c] || taskStateOf(c) != s {
			t.Errorf("state %s: code %q (seen %v, decodes to %q)", s, c, seen[c], taskStateOf(c))
		}
		seen[c] = true
	}
}
