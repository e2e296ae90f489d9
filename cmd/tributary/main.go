// Command tributary runs every role of the Tributary pipeline: one subcommand
// per role (replay, speed, archive, scheduler, worker, serve, batch, graph,
// demo). Every flag can also be set through an environment variable named
// TRIBUTARY_ followed by the flag's name in upper case with dashes as
// underscores (--redis-url: TRIBUTARY_REDIS_URL).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tributary:", err)
		stop()
		os.Exit(1)
	}
}
