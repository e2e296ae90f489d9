// Package autoscale sizes the pipeline's worker pools while it runs: speed
// workers by the consumer lag of the stream partitions, batch workers by the
// depth of the asynq queues.
//
// It is a role of its own (like speed or serving), hence a top-level package:
// a pure policy (Decide: a load history, bounds, a cooldown and hysteresis in,
// a worker count out), a control loop that only the holder of a Redis lease
// runs (internal/lease, so that two autoscalers never fight), the signals it
// reads (Redis, RabbitMQ stream ends, asynq) and the Actuator that applies a
// decision: local processes for scripts/cluster.sh, or infra/scripts/infra.sh
// scale for the GCP managed instance groups.
package autoscale
