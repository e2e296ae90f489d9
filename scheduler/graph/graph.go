package graph

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Priority orders graphs: interactive graphs go before default ones, which go
// before batch ones. The scheduler maps each priority to an asynq queue.
type Priority string

// The priorities a graph can have.
const (
	Interactive Priority = "interactive"
	Default     Priority = "default"
	Batch       Priority = "batch"
)

// Valid reports whether p is one of the known priorities ("" counts as Default).
func (p Priority) Valid() bool {
	switch p {
	case Interactive, Default, Batch, "":
		return true
	}
	return false
}

// Task is one node of a graph.
type Task struct {
	// Key identifies the task in its graph and names its result in the result
	// store: a task whose key already has a result is not run again, so keys
	// must change when inputs change (content addressing is the caller's job).
	Key string `json:"key"`
	// Func is the name a worker registered the function under.
	Func string `json:"func"`
	// Args are opaque bytes for the function (JSON when built with a non-byte value).
	Args []byte `json:"args,omitempty"`
	// Deps are the keys whose results the function receives, in this order.
	Deps []string `json:"deps,omitempty"`
	// Timeout bounds one attempt (0: the scheduler's default).
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxRetries is how many times a failing attempt is retried (nil: the
	// scheduler's default; 0 means no retry).
	MaxRetries *int `json:"max_retries,omitempty"`
}

// Graph is a set of tasks plus how to run them.
type Graph struct {
	// ID names the graph; empty means "the content hash" (see Hash).
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name,omitempty"`
	Priority Priority `json:"priority,omitempty"`
	// ResultTTL is how long results stay in the store (0: the scheduler's default).
	ResultTTL time.Duration `json:"result_ttl,omitempty"`
	Tasks     []Task        `json:"tasks"`
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid graph")

// CycleError reports a dependency cycle, listing its keys in order.
type CycleError struct{ Cycle []string }

func (e *CycleError) Error() string {
	return fmt.Sprintf("%v: dependency cycle %s", ErrInvalid, strings.Join(e.Cycle, " -> "))
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *CycleError) Unwrap() error { return ErrInvalid }

// MaxKeyLen bounds keys, which appear in Redis keys and asynq task IDs.
const MaxKeyLen = 512

// validKey refuses what would break the Redis encoding: the dependents of a
// task are stored newline-separated and "@" separates a key from the attempt
// number in asynq task IDs.
func validKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty key")
	case len(k) > MaxKeyLen:
		return fmt.Errorf("key %.40q... longer than %d bytes", k, MaxKeyLen)
	case strings.ContainsAny(k, "\n\x00@"):
		return fmt.Errorf("key %q contains a newline, NUL or '@'", k)
	}
	return nil
}

// Validate checks the graph's structure: non-empty, valid and unique keys,
// known dependencies, no self-dependency, no cycle, valid priority, and, when
// known is not nil, that every function is known (known(name) is true).
func (g *Graph) Validate(known func(fn string) bool) error {
	if len(g.Tasks) == 0 {
		return fmt.Errorf("%w: no task", ErrInvalid)
	}
	if !g.Priority.Valid() {
		return fmt.Errorf("%w: priority %q: want interactive, default or batch", ErrInvalid, g.Priority)
	}
	if g.ID != "" {
		if err := validKey(g.ID); err != nil || strings.Contains(g.ID, ":") {
			return fmt.Errorf("%w: graph id %q: want a non-empty name without ':', '@', newline", ErrInvalid, g.ID)
		}
	}
	idx := make(map[string]int, len(g.Tasks))
	for i, t := range g.Tasks {
		if err := validKey(t.Key); err != nil {
			return fmt.Errorf("%w: task %d: %v", ErrInvalid, i, err)
		}
		if _, dup := idx[t.Key]; dup {
			return fmt.Errorf("%w: duplicate key %q", ErrInvalid, t.Key)
		}
		idx[t.Key] = i
		if t.Func == "" {
			return fmt.Errorf("%w: task %q has no function", ErrInvalid, t.Key)
		}
		if t.Timeout < 0 || (t.MaxRetries != nil && *t.MaxRetries < 0) {
			return fmt.Errorf("%w: task %q: negative timeout or retries", ErrInvalid, t.Key)
		}
	}
	var unknown []string
	for _, t := range g.Tasks {
		for _, d := range t.Deps {
			if _, ok := idx[d]; !ok {
				return fmt.Errorf("%w: task %q depends on missing key %q", ErrInvalid, t.Key, d)
			}
			if d == t.Key {
				return &CycleError{Cycle: []string{t.Key, t.Key}}
			}
		}
		if known != nil && !known(t.Func) && !slices.Contains(unknown, t.Func) {
			unknown = append(unknown, t.Func)
		}
	}
	if c := g.findCycle(idx); c != nil {
		return &CycleError{Cycle: c}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: no live worker knows function(s) %s", ErrInvalid, strings.Join(unknown, ", "))
	}
	return nil
}

// findCycle runs an iterative depth-first search (graphs are deep: a chain of
// 100,000 tasks must not overflow the stack) and returns one cycle or nil.
func (g *Graph) findCycle(idx map[string]int) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.Tasks))
	type frame struct{ node, next int }
	var stack []frame
	for start := range g.Tasks {
		if color[start] != white {
			continue
		}
		stack = append(stack[:0], frame{start, 0})
		color[start] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			deps := g.Tasks[top.node].Deps
			if top.next == len(deps) {
				color[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			d := idx[deps[top.next]]
			top.next++
			switch color[d] {
			case white:
				color[d] = grey
				stack = append(stack, frame{d, 0})
			case grey:
				// d is on the stack: the cycle is from d to the top, back to d.
				var cyc []string
				for i := len(stack) - 1; i >= 0; i-- {
					cyc = append(cyc, g.Tasks[stack[i].node].Key)
					if stack[i].node == d {
						break
					}
				}
				slices.Reverse(cyc)
				// Printed as "a -> b": a depends on b.
				return append(cyc, g.Tasks[d].Key)
			}
		}
	}
	return nil
}

// Hash returns a hex digest of everything that defines the computation (the
// tasks and the priority), used as the ID of a graph submitted without one.
func (g *Graph) Hash() string {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	str(string(g.Priority))
	str(g.Name)
	for _, t := range g.Tasks {
		str(t.Key)
		str(t.Func)
		str(string(t.Args))
		binary.LittleEndian.PutUint64(n[:], uint64(len(t.Deps)))
		h.Write(n[:])
		for _, d := range t.Deps {
			str(d)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// EffectiveID is the graph's ID, or its hash when none was given.
func (g *Graph) EffectiveID() string {
	if g.ID != "" {
		return g.ID
	}
	return g.Hash()
}

// EncodeArgs turns a builder argument into bytes: nil stays nil, []byte and
// string are taken as they are, anything else is encoded as JSON.
func EncodeArgs(v any) ([]byte, error) {
	switch a := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return a, nil
	case string:
		return []byte(a), nil
	case json.RawMessage:
		return a, nil
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("args: %w", err)
		}
		return b, nil
	}
}
