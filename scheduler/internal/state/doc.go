// Package state owns the Redis state of Tributary graphs and every Lua script
// that changes it (*.lua, embedded, as in asynq's internal/rdb):
// submission (claim, materialize, activate), a task's start and its
// completion (the fan-in: mark it done, store its result, decrement its
// dependents' pending counters and enqueue into asynq those that reached
// zero, in one atomic script; both through the Coalescer), its failure, a
// graph's cancellation, the re-dispatch of a task whose worker died, the
// result store, and the live workers' advertisements. The scheduler and the
// workers both use it; it owns no goroutine.
//
// The task state machine is one table, transitions in machine.go: named
// states (TaskState), events (Event) and the allowed (state, event) ->
// state pairs. Every script changes a task's state only through the
// transition(hash, key, event) helper of transitions.lua, which is
// generated from that table (TestTransitionsLuaUpToDate fails when it is
// stale); TestEveryTransition checks all 36 pairs in Go and in Lua on a
// real Redis. Graph states (GraphState) are named there too and reach Lua
// as GS.<name>.
//
// Layout, B = <prefix>:{<prefix>}, G = B:graph:<id>: (every key a script
// touches carries the hash tag {<prefix>}, as do the asynq queues the scripts
// enqueue into, "<prefix>}.default" and "<prefix>}.batch": one Redis Cluster
// slot for one scheduler's graphs and queues, see taskq.DefaultQueues)
//
//	G:meta      hash  id name priority queue state total done memo failed cancelled created started finished error error_key gttl
//	G:state     hash  task key -> TaskState.Code(): w (waiting) q (queued) r (running) d (done) f (failed) c (cancelled)
//	G:pending   hash  task key -> number of dependencies not done yet
//	G:out       hash  task key -> its dependents, newline-separated
//	G:msg       hash  task key -> asynq message of its first dispatch
//	G:running   hash  task key -> worker ID, while it runs
//	G:attempt   hash  task key -> dispatch number, once re-dispatched
//	G:spec      string the graph as submitted (JSON, defaults filled in)
//	B:graphs:active          set of graphs submitting or running
//	B:stats                  hash of cluster-wide counters
//	B:result:<key>           a task's result (TTL), shared by all graphs: memoization
//	<prefix>:worker:<id>     a live worker's advertisement (TTL), <prefix>:workers the set of IDs
package state
