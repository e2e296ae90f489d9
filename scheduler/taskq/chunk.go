package taskq

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// chunkV1 is the first byte of a chunk payload: one asynq task that carries
// several tasks of one graph (the scheduler's scripts build it, state's
// enqueue_ready), so that asynq's dequeue and done, and a worker's state
// round trips, are paid once for all of them. After it come protobuf wire
// fields: 1, the graph; 2, repeated, each task's own asynq message (what
// it would have been enqueued as alone: its payload, retries and timeout).
const chunkV1 = 0x02

// Field numbers of the chunk payload.
const (
	cfGraph  = 1
	cfMember = 2
)

// ChunkSuffix ends the asynq task ID of a chunk: "graph:firstkey@c" (a task
// key has no '@', so no task's ID is a chunk's).
const ChunkSuffix = "@c"

// IsChunk reports whether payload b is a chunk's.
func IsChunk(b []byte) bool { return len(b) > 0 && b[0] == chunkV1 }

// EncodeChunk returns the payload of a chunk of graph's tasks, whose asynq
// messages (Message.Encode) are members. The scripts build the same bytes
// in Lua (TestChunkLuaMatchesGo); this is for tests and tools.
func EncodeChunk(graph string, members [][]byte) []byte {
	b := []byte{chunkV1}
	b = appendString(b, cfGraph, graph)
	for _, m := range members {
		b = protowire.AppendTag(b, cfMember, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b
}

// DecodeChunk returns the graph and the members' messages of a chunk payload.
func DecodeChunk(b []byte) (string, []*Message, error) {
	if !IsChunk(b) {
		return "", nil, errors.New("chunk payload: unknown format")
	}
	var graph string
	var members []*Message
	for b = b[1:]; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, fmt.Errorf("chunk payload: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != cfGraph && num != cfMember) {
			return "", nil, fmt.Errorf("chunk payload: unexpected field %d (wire type %d)", num, typ)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", nil, fmt.Errorf("chunk payload field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if num == cfGraph {
			graph = string(v)
			continue
		}
		m, err := DecodeMessage(v)
		if err != nil {
			return "", nil, fmt.Errorf("chunk member %d: %w", len(members), err)
		}
		members = append(members, m)
	}
	if graph == "" || len(members) == 0 {
		return "", nil, errors.New("chunk payload: graph or tasks missing")
	}
	return graph, members, nil
}
