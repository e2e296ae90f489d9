package workers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Call is one invocation of a registered function.
type Call struct {
	Graph string
	Key   string
	// Args are the task's arguments as given to the graph builder.
	Args []byte
	// Deps are the results of the task's dependencies, in the order of its
	// dependency keys (Arrow IPC streams for tabular results, by convention).
	Deps [][]byte
	// Retried is how many attempts of the task failed before this one (a
	// function must read it here, not from asynq's context: a task run as
	// a member of a chunk is retried by the worker, not by asynq).
	Retried int
}

// Func computes a task's result. It must honour ctx (the task's timeout,
// cancellation of its graph) and be deterministic for a given Call, since a
// task can run more than once (worker loss, retries).
type Func func(ctx context.Context, c Call) ([]byte, error)

// ErrPermanent marks errors that retrying cannot fix: a function returning
// an error wrapping it fails its graph at once. Wrap with Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that it is not retried.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Registry maps function names to functions. It is safe for concurrent use.
type Registry struct {
	mu  sync.RWMutex
	fns map[string]Func
}

// Registration adds functions to a registry; packages export one (e.g.
// builtin.Register) and the worker command applies a list of them.
type Registration func(*Registry) error

// NewRegistry returns a registry with the functions of regs.
func NewRegistry(regs ...Registration) (*Registry, error) {
	r := &Registry{fns: make(map[string]Func)}
	for _, reg := range regs {
		if err := reg(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ErrDuplicate is returned when a name is registered twice.
var ErrDuplicate = errors.New("function already registered")

// Register adds fn under name.
func (r *Registry) Register(name string, fn Func) error {
	if name == "" || fn == nil {
		return errors.New("register: empty name or nil function")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.fns[name]; ok {
		return fmt.Errorf("register %q: %w", name, ErrDuplicate)
	}
	r.fns[name] = fn
	return nil
}

// Lookup returns the function registered under name.
func (r *Registry) Lookup(name string) (Func, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.fns[name]
	return fn, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.fns))
	for n := range r.fns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
