package state

import (
	"embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The scripts live beside this file, one .lua file each, and are assembled
// from their preludes: transitions.lua (the state machine, generated from machine.go),
// common.lua (asynq's enqueue, a graph's end, the fan-in), then graph.lua
// (scripts on one graph, keys in KEYS) or batch.lua (scripts on many tasks,
// keys derived from a prefix).
//
//go:embed *.lua
var luaFS embed.FS

func lua(name string) string {
	b, err := luaFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return string(b)
}

// graphScript assembles a script acting on one graph (keys: graphKeys).
func graphScript(name string) *redis.Script {
	return redis.NewScript(strings.Join([]string{lua("transitions.lua"), lua("common.lua"), lua("graph.lua"), lua(name)}, "\n"))
}

// batchScript assembles a script acting on many tasks (ARGV[1]: prefix).
func batchScript(name string) sourced {
	return newSourced(strings.Join([]string{lua("transitions.lua"), lua("common.lua"), lua("batch.lua"), lua(name)}, "\n"))
}

// assembleStepBatch assembles step_batch.lua: start_batch.lua's and
// complete_batch.lua's bodies as functions of their own ARGV (a parameter
// that shadows the global), called in turn.
func assembleStepBatch() sourced {
	fn := func(name, file string) string {
		return "local function " + name + "(ARGV)\n" + lua(file) + "\nend"
	}
	return newSourced(strings.Join([]string{lua("transitions.lua"), lua("common.lua"), lua("batch.lua"),
		fn("start_batch", "start_batch.lua"), fn("complete_batch", "complete_batch.lua"), lua("step_batch.lua")}, "\n"))
}

var (
	claimScript         = graphScript("claim.lua")
	activateScript      = graphScript("activate.lua")
	failScript          = graphScript("fail.lua")
	redispatchScript    = graphScript("redispatch.lua")
	cancelScript        = graphScript("cancel.lua")
	startBatchScript    = batchScript("start_batch.lua")
	completeBatchScript = batchScript("complete_batch.lua")
	stepBatchScript     = assembleStepBatch()
)
