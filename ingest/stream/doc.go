// Package stream owns reading one partition's RabbitMQ stream queue over AMQP
// 0.9.1: a channel with the mandatory prefetch, a consumer that starts right
// after the committed offset (x-stream-offset), the offset of every delivery
// (its x-stream-offset header), acks sent in batches with multiple=true (on a
// stream an ack is only flow credit, it does not remove anything), and the
// stream's end for consumer lag.
package stream
