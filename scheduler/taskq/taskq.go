package taskq

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tributary-dev/tributary/scheduler/graph"
)

// TypeTask is the asynq task type of every graph task.
const TypeTask = "tributary:task"

// TaskID is the asynq task ID of attempt n of a task: "graph:key" for the
// first dispatch, "graph:key@n" when the scheduler re-dispatched the task
// after its worker died (asynq keeps the lost task active until its own
// recoverer runs, a minute or more later, so the new dispatch needs a new ID).
func TaskID(graphID, key string, attempt int) string {
	if attempt == 0 {
		return graphID + ":" + key
	}
	return graphID + ":" + key + "@" + strconv.Itoa(attempt)
}

// Attempt returns the dispatch number carried by a task ID.
func Attempt(taskID string) int {
	i := strings.LastIndexByte(taskID, '@')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(taskID[i+1:])
	if err != nil {
		return 0
	}
	return n
}

// Payload is what a worker receives for one task.
type Payload struct {
	Graph string   `json:"g"`
	Key   string   `json:"k"`
	Func  string   `json:"f"`
	Args  []byte   `json:"a,omitempty"`
	Deps  []string `json:"d,omitempty"`
	// TimeoutMS bounds one attempt exactly (asynq's own timeout has a
	// granularity of a second and is set a little above it, as a backstop).
	TimeoutMS int64 `json:"t,omitempty"`
	// ResultTTLMS is how long the result stays in the store.
	ResultTTLMS int64 `json:"r,omitempty"`
}

// payloadV1 is the first byte of a payload in the binary format EncodePayload
// writes (protobuf wire fields after it). A JSON payload, what earlier
// versions enqueued, starts with '{' and is still read.
const payloadV1 = 0x01

// Field numbers of the binary payload.
const (
	pfGraph = 1 + iota
	pfKey
	pfFunc
	pfArgs
	pfDep
	pfTimeout
	pfResultTTL
)

// EncodePayload encodes p. The format is binary (protobuf wire fields
// behind a version byte), not JSON: decoding the JSON payload with
// encoding/json's reflection was ~10% of a worker's CPU on 10,000 no-op
// tasks (docs/benchmarks-scheduler.md).
func EncodePayload(p *Payload) ([]byte, error) {
	n := 16 + len(p.Graph) + len(p.Key) + len(p.Func) + len(p.Args)
	for _, d := range p.Deps {
		n += 2 + len(d)
	}
	b := make([]byte, 1, n)
	b[0] = payloadV1
	b = appendString(b, pfGraph, p.Graph)
	b = appendString(b, pfKey, p.Key)
	b = appendString(b, pfFunc, p.Func)
	if len(p.Args) > 0 {
		b = protowire.AppendTag(b, pfArgs, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Args)
	}
	for _, d := range p.Deps {
		b = appendString(b, pfDep, d)
	}
	for _, f := range [...]struct {
		num protowire.Number
		v   int64
	}{{pfTimeout, p.TimeoutMS}, {pfResultTTL, p.ResultTTLMS}} {
		if f.v != 0 {
			b = protowire.AppendTag(b, f.num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(f.v))
		}
	}
	return b, nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// DecodePayload decodes a payload, binary or (enqueued by an earlier
// version) JSON.
func DecodePayload(b []byte) (*Payload, error) {
	var p Payload
	switch {
	case len(b) > 0 && b[0] == payloadV1:
		if err := p.decodeBinary(b[1:]); err != nil {
			return nil, fmt.Errorf("task payload: %w", err)
		}
	case len(b) > 0 && b[0] == '{':
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("task payload: %w", err)
		}
	default:
		return nil, errors.New("task payload: unknown format")
	}
	if p.Graph == "" || p.Key == "" || p.Func == "" {
		return nil, errors.New("task payload: graph, key or function missing")
	}
	return &p, nil
}

func (p *Payload) decodeBinary(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && num >= pfGraph && num <= pfDep:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			switch num {
			case pfGraph:
				p.Graph = string(v)
			case pfKey:
				p.Key = string(v)
			case pfFunc:
				p.Func = string(v)
			case pfArgs:
				p.Args = append([]byte(nil), v...)
			case pfDep:
				p.Deps = append(p.Deps, string(v))
			}
			b = b[n:]
		case typ == protowire.VarintType && (num == pfTimeout || num == pfResultTTL):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			if num == pfTimeout {
				p.TimeoutMS = int64(v)
			} else {
				p.ResultTTLMS = int64(v)
			}
			b = b[n:]
		default:
			return fmt.Errorf("unexpected field %d (wire type %d)", num, typ)
		}
	}
	return nil
}

// Message is the part of asynq's TaskMessage that Tributary sets.
type Message struct {
	Type    string
	Payload []byte
	ID      string
	Queue   string
	Retry   int
	Timeout time.Duration
}

// Field numbers of asynq's internal/proto/asynq.proto TaskMessage.
const (
	fieldType    = 1
	fieldPayload = 2
	fieldID      = 3
	fieldQueue   = 4
	fieldRetry   = 5
	fieldTimeout = 8
)

// Encode returns m in asynq's wire format. The timeout is rounded up to whole
// seconds (asynq's unit) and is never 0, which asynq reports as an error.
func (m *Message) Encode() []byte {
	b := make([]byte, 0, 32+len(m.Type)+len(m.Payload)+len(m.ID)+len(m.Queue))
	b = protowire.AppendTag(b, fieldType, protowire.BytesType)
	b = protowire.AppendString(b, m.Type)
	b = protowire.AppendTag(b, fieldPayload, protowire.BytesType)
	b = protowire.AppendBytes(b, m.Payload)
	b = protowire.AppendTag(b, fieldID, protowire.BytesType)
	b = protowire.AppendString(b, m.ID)
	b = protowire.AppendTag(b, fieldQueue, protowire.BytesType)
	b = protowire.AppendString(b, m.Queue)
	if m.Retry > 0 {
		b = protowire.AppendTag(b, fieldRetry, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.Retry))
	}
	secs := int64((m.Timeout + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	b = protowire.AppendTag(b, fieldTimeout, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(secs))
	return b
}

// DecodeMessage reads the fields Encode writes, skipping the others.
func DecodeMessage(b []byte) (*Message, error) {
	var m Message
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("task message: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && num <= fieldQueue:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("task message field %d: %w", num, protowire.ParseError(n))
			}
			switch num {
			case fieldType:
				m.Type = string(v)
			case fieldPayload:
				m.Payload = append([]byte(nil), v...)
			case fieldID:
				m.ID = string(v)
			case fieldQueue:
				m.Queue = string(v)
			}
			b = b[n:]
		case typ == protowire.VarintType && (num == fieldRetry || num == fieldTimeout):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("task message field %d: %w", num, protowire.ParseError(n))
			}
			if num == fieldRetry {
				m.Retry = int(v)
			} else {
				m.Timeout = time.Duration(v) * time.Second
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("task message field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return &m, nil
}

// QueueKeyPrefix is asynq's prefix of every key of queue q.
func QueueKeyPrefix(q string) string { return "asynq:{" + q + "}:" }

// AllQueuesKey is asynq's set of known queues (what the Inspector and asynqmon list).
const AllQueuesKey = "asynq:queues"

// Queues maps graph priorities to asynq queues and their weights. There are
// two queues, default and batch: interactive tasks go to the default queue
// too, but at its head (the Lua enqueue pushes them on the end asynq pops,
// see state's common.lua), so that they pass every default task without a
// queue of their own. A separate interactive queue, almost always empty,
// cost a wasted dequeue script call per task: asynq's processor tries its
// queues one script call at a time, highest priority first.
type Queues struct {
	Default, Batch string
	// Weights of the queues when not strict (asynq's Config.Queues).
	Weights map[string]int
	// Strict makes workers always drain higher priorities first.
	Strict bool
}

// DefaultQueues derives queue names from a prefix, so that deployments (and
// tests) sharing a Redis do not share queues: strict priority, interactive
// (the head of default) before default before batch.
//
// The names are "PREFIX}.default" and "PREFIX}.batch": asynq names a queue's
// keys "asynq:{NAME}:...", whose Redis Cluster hash tag is then PREFIX, the
// tag of the scheduler's own keys (package state): the graph scripts enqueue
// into asynq's keys in the same atomic step as they change a graph, so both
// queues and the graphs must share one slot (SlotTag).
func DefaultQueues(prefix string) Queues {
	q := Queues{Default: prefix + "}.default", Batch: prefix + "}.batch", Strict: true}
	q.Weights = map[string]int{q.Default: 3, q.Batch: 1}
	return q
}

// SlotTag is the Redis Cluster hash tag of queue's asynq keys
// ("asynq:{NAME}:..."): NAME up to its first '}'.
func SlotTag(queue string) string {
	if i := strings.IndexByte(queue, '}'); i >= 0 {
		return queue[:i]
	}
	return queue
}

// CheckSlot returns an error unless every queue's keys share the hash tag
// tag (the scheduler's key prefix), which the atomic enqueue of the graph
// scripts needs on a Redis Cluster. It is checked whatever the deployment, so
// that a setting that would fail on a cluster fails everywhere.
func (q Queues) CheckSlot(tag string) error {
	for _, n := range q.All() {
		if SlotTag(n) != tag {
			return fmt.Errorf("queue %q: its keys are not in the scheduler's Redis slot {%s}: name it %q (DefaultQueues)", n, tag, tag+"}.NAME")
		}
	}
	return nil
}

// For returns the queue of priority p (interactive tasks share the default
// queue, at its head).
func (q Queues) For(p graph.Priority) string {
	if p == graph.Batch {
		return q.Batch
	}
	return q.Default
}

// All returns the queue names, highest priority first.
func (q Queues) All() []string { return []string{q.Default, q.Batch} }
