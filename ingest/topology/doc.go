// Package topology owns the layout of the event streams in RabbitMQ: how many
// partitions there are, what their stream queues are called, and declaring
// them. Producers publish through the default exchange with the queue name as
// routing key; an event of origin o goes to partition flight.Partition(o, P).
package topology
