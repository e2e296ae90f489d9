// Package obs owns what every Tributary process shares for observability: the
// slog logger, the HTTP server that exposes /metrics (and health endpoints),
// and progress reporting for long CLI work (a bar on a terminal, log lines
// otherwise).
package obs
