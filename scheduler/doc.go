// Package scheduler owns Tributary's scheduler service: it accepts graphs
// (Go API and HTTP API), validates them against the functions that live
// workers advertise, stores them and enqueues their ready tasks, reports
// progress (Status, Submitted, the graph and task states are its public
// types), cancels graphs, and, on the replica holding the leader lease only,
// sweeps up what crashes left behind (submissions cut short, tasks of dead
// workers) and runs the periodic graphs through asynq's periodic-task
// scheduler. Task completion does not go through it: workers run the fan-in
// themselves through a TaskRecorder, so a graph keeps running while no
// scheduler is up.
//
// Package internal/state does the Redis work and holds the task state
// machine: one (state, event) -> state table in machine.go, from which the
// Lua scripts' transition helper is generated.
//
// Known gap: a worker that dies after asynq handed it a task but before the
// task's start was recorded leaves a task the sweeper cannot see (it is not
// "running" anywhere); asynq's own lease expiry brings it back, a minute or
// more later, and the graph still completes with the right result. For a
// chunk (several ready tasks of a graph in one asynq task, see Config.Chunk)
// the gap is the time between asynq's dequeue and the one start batch of
// all its members.
package scheduler
