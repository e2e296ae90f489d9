package builtin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-dev/tributary/workers"
)

// Register adds the built-in functions to r.
func Register(r *workers.Registry) error {
	for name, fn := range map[string]workers.Func{
		"noop":     noop,
		"const":    constant,
		"sum":      sum,
		"sleepsum": sleepSum,
		"flaky":    flaky,
		"fail":     fail,
		"spin":     spin,
	} {
		if err := r.Register(name, fn); err != nil {
			return err
		}
	}
	return nil
}

// noop returns an empty result: the cost of scheduling alone.
func noop(context.Context, workers.Call) ([]byte, error) { return nil, nil }

// constant returns its arguments.
func constant(_ context.Context, c workers.Call) ([]byte, error) { return c.Args, nil }

// sum adds its dependencies' results and its argument (if any), as integers.
func sum(_ context.Context, c workers.Call) ([]byte, error) {
	var total int64
	for i, d := range append([][]byte{c.Args}, c.Deps...) {
		s := strings.TrimSpace(string(d))
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			// A malformed input will not improve on retry.
			return nil, workers.Permanent(fmt.Errorf("sum: input %d %q: %w", i, s, err))
		}
		total += n
	}
	return strconv.AppendInt(nil, total, 10), nil
}

// spin burns CPU: its argument is a number of xorshift64 rounds (about 1 ns
// each), its result their final value in decimal. A CPU-bound task of a
// fixed amount of work, to benchmark workers' defaults with
// (`tributary graph bench --func spin --args N`).
func spin(ctx context.Context, c workers.Call) ([]byte, error) {
	n, err := strconv.ParseInt(string(c.Args), 10, 64)
	if err != nil || n < 0 {
		return nil, workers.Permanent(fmt.Errorf("spin: rounds %q: want a count", c.Args))
	}
	x := uint64(88172645463325252)
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if i&(1<<20-1) == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	return strconv.AppendUint(nil, x, 10), nil
}

// sleepSum sleeps for its argument (a Go duration), then sums its
// dependencies: a slow task with an exact result, to kill workers under.
func sleepSum(ctx context.Context, c workers.Call) ([]byte, error) {
	d, err := time.ParseDuration(string(c.Args))
	if err != nil {
		return nil, workers.Permanent(fmt.Errorf("sleepsum: %w", err))
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return sum(ctx, workers.Call{Deps: c.Deps})
}

// flaky fails while the task's retry count is below its argument, then sums
// its dependencies: it exercises retries.
func flaky(ctx context.Context, c workers.Call) ([]byte, error) {
	n, err := strconv.Atoi(string(c.Args))
	if err != nil {
		return nil, workers.Permanent(fmt.Errorf("flaky: %w", err))
	}
	if c.Retried < n {
		return nil, fmt.Errorf("flaky: attempt %d of %d fails on purpose", c.Retried+1, n+1)
	}
	return sum(ctx, workers.Call{Deps: c.Deps})
}

// fail always fails with its argument as the message.
func fail(_ context.Context, c workers.Call) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s", errFail, c.Args)
}

var errFail = errors.New("fail: failing on purpose")
