package state

import (
	"errors"
	"fmt"
	"strings"
)

// TaskState is the state of one task of a graph. It is stored in G:state as
// a one-letter code (Code) so that a million-task hash stays small; Go code
// and Lua scripts only ever use the names.
type TaskState string

// Task states. A task is created Waiting (Done when its result already
// exists at submission: memoization); Done, Failed and Cancelled are final.
const (
	Waiting   TaskState = "waiting"   // some dependency is not done yet
	Queued    TaskState = "queued"    // in asynq, not started (or re-dispatched)
	Running   TaskState = "running"   // a worker started it
	Done      TaskState = "done"      // its result is stored
	Failed    TaskState = "failed"    // failed for good: its graph failed
	Cancelled TaskState = "cancelled" // its graph stopped before it ran
)

// TaskStates lists every task state, in the order of the table.
var TaskStates = []TaskState{Waiting, Queued, Running, Done, Failed, Cancelled}

// codes is the stored encoding of the task states.
var codes = map[TaskState]string{Waiting: "w", Queued: "q", Running: "r", Done: "d", Failed: "f", Cancelled: "c"}

// Code is the stored encoding of s.
func (s TaskState) Code() string { return codes[s] }

// taskStateOf decodes a stored code ("" if unknown).
func taskStateOf(code string) TaskState {
	for s, c := range codes {
		if c == code {
			return s
		}
	}
	return ""
}

// Event is something that happens to a task.
type Event string

// Events, and the script that applies each.
const (
	Ready      Event = "ready"      // its last dependency is done (activate, the fan-in)
	Start      Event = "start"      // a worker starts it (start batch)
	Complete   Event = "complete"   // its result is stored (complete batch)
	Fail       Event = "fail"       // it failed for good (fail)
	Redispatch Event = "redispatch" // its worker died: dispatched again (redispatch)
	Cancel     Event = "cancel"     // its graph stopped: failed or cancelled (cancel_pending)
)

// Events lists every event, in the order of the table.
var Events = []Event{Ready, Start, Complete, Fail, Redispatch, Cancel}

// transitions is THE task state machine: the only allowed (state, event)
// pairs and where each leads. Every pair absent is refused: the state does
// not change. The Lua scripts read it from transitions.lua, generated from
// it (TestTransitionsLuaUpToDate fails when that file is stale). Choices:
//   - start from running is allowed: asynq re-delivers the same dispatch
//     after a failed attempt (a retry) while the task is still running;
//   - complete and fail from queued are allowed: a memoized task completes
//     without starting, and the lost dispatch of a re-dispatched task may
//     still finish first (the new dispatch then finds it final and skips);
//   - the final states accept nothing: in particular a cancelled task can
//     become neither done nor failed (a running task is never cancelled:
//     it is interrupted, and if it finishes anyway its result counts).
var transitions = map[TaskState]map[Event]TaskState{
	Waiting: {Ready: Queued, Cancel: Cancelled},
	Queued:  {Start: Running, Complete: Done, Fail: Failed, Cancel: Cancelled},
	Running: {Start: Running, Complete: Done, Fail: Failed, Redispatch: Queued},
}

// ErrRefused is returned for a (state, event) pair the table does not allow.
var ErrRefused = errors.New("transition refused")

// Next returns the state that event e leads to from state s, or ErrRefused.
func Next(s TaskState, e Event) (TaskState, error) {
	if n, ok := transitions[s][e]; ok {
		return n, nil
	}
	return s, fmt.Errorf("task %s on %s: %w", s, e, ErrRefused)
}

// GraphState is the state of a graph.
type GraphState string

// Graph states: Submitting -> Running -> Done | Failed | Cancelled (a
// submitting graph can also be cancelled, or become Done at once when
// memoization left nothing to run).
const (
	GraphSubmitting GraphState = "submitting"
	GraphRunning    GraphState = "running"
	GraphDone       GraphState = "done"
	GraphFailed     GraphState = "failed"
	GraphCancelled  GraphState = "cancelled"
)

// GraphStates lists every graph state.
var GraphStates = []GraphState{GraphSubmitting, GraphRunning, GraphDone, GraphFailed, GraphCancelled}

// IsFinal reports whether a graph in state g is finished.
func (g GraphState) IsFinal() bool {
	return g == GraphDone || g == GraphFailed || g == GraphCancelled
}

// TransitionsLua renders the state names, their codes and the transition
// table as the Lua prelude of every script (transitions.lua).
func TransitionsLua() string {
	var b strings.Builder
	b.WriteString("-- Code generated from machine.go by TestTransitionsLuaUpToDate -update; DO NOT EDIT.\n")
	b.WriteString("-- TS: task state name -> stored code; GS: graph states; NEXT: code -> event -> code.\n")
	b.WriteString("local TS = {")
	for i, s := range TaskStates {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = '%s'", s, s.Code())
	}
	b.WriteString("}\nlocal GS = {")
	for i, g := range GraphStates {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = '%s'", g, g)
	}
	b.WriteString("}\nlocal NEXT = {\n")
	for _, s := range TaskStates {
		row := transitions[s]
		if len(row) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s = {", s.Code())
		evs := make([]Event, 0, len(row))
		for _, e := range Events {
			if _, ok := row[e]; ok {
				evs = append(evs, e)
			}
		}
		for i, e := range evs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = '%s'", e, row[e].Code())
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	b.WriteString(`-- can reports whether event ev is allowed from stored code st.
local function can(st, ev)
  if not st then return false end
  local row = NEXT[st]
  return row ~= nil and row[ev] ~= nil
end
-- transition applies event ev to task k in state hash H: it returns the new
-- code, or false when the table refuses (the state is left unchanged).
local function transition(H, k, ev)
  local st = redis.call('HGET', H, k)
  if not can(st, ev) then return false end
  local nx = NEXT[st][ev]
  redis.call('HSET', H, k, nx)
  return nx
end
`)
	return b.String()
}

// TransitionsMarkdown renders the transition table for docs/architecture.md
// (TestArchitectureDocTable keeps the copy there in step): one row per
// state, one column per event, the new state or "—" when refused.
func TransitionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| state \\ event |")
	for _, e := range Events {
		fmt.Fprintf(&b, " %s |", e)
	}
	b.WriteString("\n|---|")
	for range Events {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range TaskStates {
		fmt.Fprintf(&b, "| **%s** (`%s`) |", s, s.Code())
		for _, e := range Events {
			if n, ok := transitions[s][e]; ok {
				fmt.Fprintf(&b, " %s |", n)
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
