// Package batchtest holds the batch layer's end-to-end tests, against the
// real Redis and RabbitMQ: archive (in process and as a SIGKILLed
// subprocess), recompute through the scheduler with two workers, atomic
// publication, reconciliation with the speed layer, late events.
package batchtest
