// Command rawconsume is the bare-consumer reference of the speed layer in
// `make bench` (bench/deployed): one amqp091-go connection, one channel per
// stream partition (prefetch like `tributary speed`'s default), consuming every
// partition from its first message and acknowledging in batches, without
// looking inside the messages, until each partition's message count (read
// when it starts) is reached. Prints one JSON line: messages, seconds.
//
// It imports no Tributary package.
package main
