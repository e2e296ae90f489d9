// Package taskq owns how a Tributary task travels through asynq: the task
// type, the task ID (graph + key, so that a second enqueue is harmless), the
// payload a worker receives, the mapping from graph priority to asynq queue,
// and asynq's wire format of a task message.
//
// asynq has no batch-enqueue API and each Client.Enqueue is a round trip, so
// the scheduler and the workers enqueue inside their own Lua scripts (many
// tasks per round trip, atomically with the graph's state). They therefore
// write asynq's Redis layout themselves: the task hash asynq:{q}:t:<id> with
// the protobuf-encoded message and the id pushed on asynq:{q}:pending, exactly
// as asynq v0.26.0's enqueueCmd (internal/rdb) does. The message is encoded
// here with protowire following asynq's internal/proto/asynq.proto; a test
// checks that asynq's Inspector reads what we write, which pins the contract
// when asynq is upgraded.
package taskq
