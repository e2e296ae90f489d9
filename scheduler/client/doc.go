// Package client owns the Go client of the scheduler's HTTP API: submit a
// graph, read its progress, wait for it, cancel it, read results.
package client
