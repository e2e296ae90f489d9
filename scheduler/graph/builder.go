package graph

import (
	"fmt"
	"time"
)

// Builder writes graphs. Errors (e.g. arguments that do not encode) are kept
// and returned by Build, so that calls chain without checks.
type Builder struct {
	g   Graph
	err error
}

// New starts a graph with a name (shown in status; part of the content hash).
func New(name string) *Builder { return &Builder{g: Graph{Name: name}} }

// WithID sets a client-given ID instead of the content hash.
func (b *Builder) WithID(id string) *Builder { b.g.ID = id; return b }

// WithPriority sets the graph's priority.
func (b *Builder) WithPriority(p Priority) *Builder { b.g.Priority = p; return b }

// WithResultTTL sets how long the graph's results stay in the store.
func (b *Builder) WithResultTTL(d time.Duration) *Builder { b.g.ResultTTL = d; return b }

// TaskOption adjusts one task.
type TaskOption func(*Task)

// Timeout bounds each attempt of the task.
func Timeout(d time.Duration) TaskOption { return func(t *Task) { t.Timeout = d } }

// Retries sets how many times a failing attempt is retried.
func Retries(n int) TaskOption { return func(t *Task) { t.MaxRetries = &n } }

// Task adds a task calling fn with args (see EncodeArgs) on the results of
// deps, in order, and returns its key (handy to pass as a dependency).
func (b *Builder) Task(key, fn string, args any, deps ...string) string {
	return b.TaskWith(key, fn, args, deps)
}

// TaskWith is Task with options.
func (b *Builder) TaskWith(key, fn string, args any, deps []string, opts ...TaskOption) string {
	a, err := EncodeArgs(args)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("task %q: %w", key, err)
	}
	t := Task{Key: key, Func: fn, Args: a, Deps: append([]string(nil), deps...)}
	for _, o := range opts {
		o(&t)
	}
	b.g.Tasks = append(b.g.Tasks, t)
	return key
}

// MapPartitions adds one task per input key: key prefix+"-"+i calls fn with
// args on the result of inputs[i]. It returns the new keys in order.
func (b *Builder) MapPartitions(prefix, fn string, args any, inputs []string, opts ...TaskOption) []string {
	keys := make([]string, len(inputs))
	for i, in := range inputs {
		keys[i] = b.TaskWith(fmt.Sprintf("%s-%d", prefix, i), fn, args, []string{in}, opts...)
	}
	return keys
}

// Generate adds n tasks without dependencies, key prefix+"-"+i calling fn
// with argsOf(i): the leaves of a map or a reduction.
func (b *Builder) Generate(prefix, fn string, n int, argsOf func(i int) any, opts ...TaskOption) []string {
	keys := make([]string, n)
	for i := range n {
		var a any
		if argsOf != nil {
			a = argsOf(i)
		}
		keys[i] = b.TaskWith(fmt.Sprintf("%s-%d", prefix, i), fn, a, nil, opts...)
	}
	return keys
}

// TreeReduce combines inputs with fn, fanIn results at a time, level by level,
// until one remains; it returns the root's key (inputs[0] when there is only
// one input). Keys are prefix+"-L<level>-<i>".
func (b *Builder) TreeReduce(prefix, fn string, args any, fanIn int, inputs []string, opts ...TaskOption) string {
	if fanIn < 2 {
		if b.err == nil {
			b.err = fmt.Errorf("tree reduce %q: fan-in %d < 2", prefix, fanIn)
		}
		fanIn = 2
	}
	if len(inputs) == 0 {
		if b.err == nil {
			b.err = fmt.Errorf("tree reduce %q: no input", prefix)
		}
		return ""
	}
	level := inputs
	for l := 1; len(level) > 1; l++ {
		next := make([]string, 0, (len(level)+fanIn-1)/fanIn)
		for i := 0; i < len(level); i += fanIn {
			group := level[i:min(i+fanIn, len(level))]
			next = append(next, b.TaskWith(fmt.Sprintf("%s-L%d-%d", prefix, l, len(next)), fn, args, group, opts...))
		}
		level = next
	}
	return level[0]
}

// Build returns the graph, checked structurally (functions are checked at
// submission, against the live workers).
func (b *Builder) Build() (*Graph, error) {
	if b.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, b.err)
	}
	g := b.g
	if err := g.Validate(nil); err != nil {
		return nil, err
	}
	return &g, nil
}
