package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// main cancels the root context on the first SIGINT or SIGTERM, which every
// role takes as the order to stop cleanly (docs/conventions.md), and then
// restores the default handling: a second signal kills the process at once.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tributary:", err)
		stop()
		os.Exit(1)
	}
}
