// Package asynqlog sends asynq's logs to slog: the one adapter of the
// scheduler and the workers.
package asynqlog

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Logger implements asynq.Logger on a slog.Logger; every record carries
// from=asynq.
type Logger struct{ L *slog.Logger }

// Debug logs at debug level.
func (a Logger) Debug(args ...any) { a.L.Debug(fmt.Sprint(args...), "from", "asynq") }

// Info logs at info level.
func (a Logger) Info(args ...any) { a.L.Info(fmt.Sprint(args...), "from", "asynq") }

// Warn logs at warn level.
func (a Logger) Warn(args ...any) { a.L.Warn(fmt.Sprint(args...), "from", "asynq") }

// Error logs at error level, except a known harmless message.
func (a Logger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "connection is shared") {
		// asynq's Scheduler.Shutdown tries to close a client it was given
		// (NewSchedulerFromRedisClient) and reports that it must not: noise.
		a.L.Debug(msg, "from", "asynq")
		return
	}
	a.L.Error(msg, "from", "asynq")
}

// Fatal logs at error level and exits, as asynq expects of it.
func (a Logger) Fatal(args ...any) {
	a.L.Error(fmt.Sprint(args...), "from", "asynq")
	os.Exit(1)
}
