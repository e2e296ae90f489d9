// Package amqpconn dials a RabbitMQ cluster given as a list of node URLs (a
// comma-separated --amqp-url, in order of preference).
//
// A Dialer tries the nodes in turn, starting after the node that failed last,
// and retries the whole list with capped, jittered exponential backoff until
// one answers or the context ends, logging every failure. It only opens
// connections: what to do after a reconnection belongs to the caller, and in
// Tributary it is always the same: a publisher publishes again what the broker
// did not confirm (consumers drop the re-sent seqs), a consumer resumes from
// the offsets it committed in Redis, whichever node it now talks to (a
// replicated stream has the same offsets on every node).
package amqpconn
