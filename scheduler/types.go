package scheduler

import (
	"time"

	"github.com/tributary-dev/tributary/scheduler/internal/state"
)

// The public result types of the scheduler. The state machine itself (task
// and graph states, events, the transition table) is defined once, in
// internal/state/machine.go, beside the Lua scripts generated from it; the
// names below are that definition, re-exported.

// GraphState is the state of a graph: submitting, running, then done,
// failed or cancelled.
type GraphState = state.GraphState

// Graph states.
const (
	GraphSubmitting = state.GraphSubmitting
	GraphRunning    = state.GraphRunning
	GraphDone       = state.GraphDone
	GraphFailed     = state.GraphFailed
	GraphCancelled  = state.GraphCancelled
)

// TaskState is the state of one task (see internal/state/machine.go for
// the transitions between them).
type TaskState = state.TaskState

// Task states.
const (
	TaskWaiting   = state.Waiting
	TaskQueued    = state.Queued
	TaskRunning   = state.Running
	TaskDone      = state.Done
	TaskFailed    = state.Failed
	TaskCancelled = state.Cancelled
)

// Errors of the reads.
var (
	// ErrNotFound is returned for an unknown (or expired) graph.
	ErrNotFound = state.ErrNotFound
	// ErrNoResult is returned for a key without a stored result.
	ErrNoResult = state.ErrNoResult
)

// Status is a graph's progress.
type Status struct {
	ID        string     `json:"id"`
	Name      string     `json:"name,omitempty"`
	Priority  string     `json:"priority"`
	Queue     string     `json:"queue"`
	State     GraphState `json:"state"`
	Total     int64      `json:"total"`
	Done      int64      `json:"done"` // includes Memoized
	Memoized  int64      `json:"memoized"`
	Running   int64      `json:"running"`
	Failed    int64      `json:"failed"`
	Cancelled int64      `json:"cancelled"`
	Error     string     `json:"error,omitempty"`
	ErrorKey  string     `json:"error_key,omitempty"`
	Created   time.Time  `json:"created"`
	Started   time.Time  `json:"started,omitzero"`
	Finished  time.Time  `json:"finished,omitzero"`
}

// IsFinal reports whether the graph reached a final state.
func (st *Status) IsFinal() bool { return st.State.IsFinal() }

// Submitted is what Submit did.
type Submitted struct {
	ID string
	// Created is false when the graph already existed (a second submission
	// of the same graph is a no-op).
	Created bool
	// Memoized counts tasks found already computed.
	Memoized int
	// Enqueued counts tasks enqueued at once.
	Enqueued int
}

// Defaults fill what a graph leaves unset.
type Defaults struct {
	Timeout    time.Duration // per attempt
	MaxRetries int
	ResultTTL  time.Duration
	// GraphTTL is how long a finished graph's state is kept.
	GraphTTL time.Duration
}
