package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// runtimeFlags are the Go runtime settings every command takes: a soft
// memory limit and a pprof endpoint (a profiling aid).
type runtimeFlags struct {
	memoryLimit string
	pprofAddr   string
}

func (r *runtimeFlags) add(pf *pflag.FlagSet) {
	pf.StringVar(&r.memoryLimit, "memory-limit", "auto", "soft memory limit of the Go heap (debug.SetMemoryLimit), e.g. 400MiB or 1GiB: the "+
		"garbage collector works harder near it instead of letting the heap double; auto: the role's default "+
		"(speed and archive 180MiB, worker 400MiB, serve 440MiB, none for the others), unless $GOMEMLIMIT is set; 0 or off: none")
	pf.StringVar(&r.pprofAddr, "pprof-addr", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060), a profiling aid; empty: none")
}

// roleMemoryLimit is the default soft memory limit of a role, in bytes (0:
// none). The roles that run for long and hold data sets get one below the
// peak resident set they aim at (speed and archive 256 MB, worker and serve
// 512 MB; docs/benchmarks.md), less the ~50-60 MB that a process of this
// binary keeps resident besides the Go runtime's memory (its code and data:
// `tributary streams declare` peaks at ~50 MB). Without it the heap grows to
// twice its live size between collections: the archiver's live heap of
// ~110 MB peaked at 410 MB resident on the 3M replay, 245 MB with 180 MiB.
// A limit below a role's live heap does not hold either: the collector then
// runs back to back for nothing.
func roleMemoryLimit(role string) int64 {
	switch role {
	case "speed", "archive":
		return 180 << 20
	case "worker":
		return 400 << 20
	case "serve":
		// Loading a version of 3M flights holds ~385 MB live at its peak
		// (the loaded view while its batch index is built): a limit below
		// that makes the collector run back to back (400 MiB: 311
		// collections and twice the CPU for one load).
		return 440 << 20
	}
	return 0
}

// apply sets the memory limit and starts the pprof server (until the
// process ends), for the command named role.
func (r *runtimeFlags) apply(role string, log *slog.Logger) error {
	limit, err := parseMemoryLimit(r.memoryLimit, role)
	if err != nil {
		return err
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if r.pprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.pprofAddr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof", "addr", ln.Addr().String())
	return nil
}

// parseMemoryLimit reads --memory-limit: auto, 0/off, or a size with a
// unit (B, KiB, MiB, GiB; KB, MB, GB are taken as the same powers of 2).
func parseMemoryLimit(s, role string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		if os.Getenv("GOMEMLIMIT") != "" {
			return 0, nil // the runtime read it already
		}
		return roleMemoryLimit(role), nil
	case "0", "off", "none":
		return 0, nil
	}
	num := strings.TrimRight(s, "BbKkMmGgIi")
	unit := strings.ToLower(strings.TrimPrefix(s, num))
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || mult == 0 || n < 0 {
		return 0, fmt.Errorf("--memory-limit %q: want auto, off or a size such as 400MiB", s)
	}
	return n * mult, nil
}
