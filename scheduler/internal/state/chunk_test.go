package state

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// TestChunkedDispatch submits graphs whose ready tasks are dispatched in
// chunks (enqueue_ready in common.lua), at activation (independent roots)
// and at the fan-in (the dependents of one task), and reads back asynq's
// pending list: the chunk sizes follow min(Chunk, ceil(ready / Slots)),
// split evenly; each chunk's message is exactly what taskq.EncodeChunk
// builds from its members' own messages (the Lua and Go encodings agree),
// with the graph's largest retries and its largest timeout times the
// chunk's size; every ready task is dispatched exactly once.
func TestChunkedDispatch(t *testing.T) {
	for _, c := range []struct {
		name   string
		fanout bool // the ready tasks are the dependents of a root, made ready by its completion
		n      int
		d      Dispatch
		sizes  []int // of the asynq tasks (1: a task alone), sorted
	}{
		{"roots spread over the slots", false, 10, Dispatch{Chunk: 32, Slots: 4}, []int{2, 2, 3, 3}},
		{"roots bounded by chunk", false, 10, Dispatch{Chunk: 4, Slots: 1}, []int{3, 3, 4}},
		{"uneven split", false, 3, Dispatch{Chunk: 2, Slots: 1}, []int{1, 2}},
		{"more slots than tasks", false, 10, Dispatch{Chunk: 32, Slots: 32}, slices.Repeat([]int{1}, 10)},
		{"no chunks", false, 10, Dispatch{Chunk: 1, Slots: 1}, slices.Repeat([]int{1}, 10)},
		{"zero value", false, 5, Dispatch{}, slices.Repeat([]int{1}, 5)},
		{"fan-out", true, 10, Dispatch{Chunk: 32, Slots: 2}, []int{5, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rdb := testenv.Redis(t)
			prefix := testenv.Prefix(t)
			queue := taskq.DefaultQueues(prefix).Default
			ctx := context.Background()
			t.Cleanup(func() {
				_ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(queue, true)
				rdb.SRem(context.Background(), taskq.AllQueuesKey, queue)
				testenv.DeleteKeys(rdb, prefix+":*")
			})
			s := New(rdb, prefix)
			b := graph.New("chunks")
			var deps []string
			if c.fanout {
				deps = []string{b.Task("root", "noop", nil)}
			}
			var want []string
			for i := range c.n {
				want = append(want, b.Task("t"+strconv.Itoa(i), "noop", nil, deps...))
			}
			g, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			g.ID = g.EffectiveID()
			g.ResultTTL = time.Hour
			for i := range g.Tasks { // the defaults package scheduler fills in, varied
				r := i % 4
				g.Tasks[i].MaxRetries = &r
				g.Tasks[i].Timeout = time.Duration(1+i%3) * time.Minute
			}
			if _, err := s.Submit(ctx, g, queue, time.Hour, c.d); err != nil {
				t.Fatal(err)
			}
			if c.fanout {
				co := s.NewCoalescer()
				p := &taskq.Payload{Graph: g.ID, Key: "root", Func: "noop"}
				if a, _, err := co.Start(ctx, p, 0, "w"); err != nil || a != ActionRun {
					t.Fatalf("start root: %q %v", a, err)
				}
				if comp, err := co.Complete(ctx, p, []byte("r"), false); err != nil || comp.Ready != c.n {
					t.Fatalf("complete root: %+v %v, want %d ready", comp, err, c.n)
				}
			}
			msgs, err := rdb.HGetAll(ctx, s.key(g.ID, "msg")).Result()
			if err != nil {
				t.Fatal(err)
			}
			var rmax int
			var tmax time.Duration
			for _, tk := range g.Tasks {
				rmax, tmax = max(rmax, *tk.MaxRetries), max(tmax, tk.Timeout+time.Second)
			}
			pfx := taskq.QueueKeyPrefix(queue)
			ids, err := rdb.LRange(ctx, pfx+"pending", 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var sizes []int
			for _, id := range ids {
				if id == taskq.TaskID(g.ID, "root", 0) {
					continue // the root, enqueued alone at activation
				}
				raw, err := rdb.HGet(ctx, pfx+"t:"+id, "msg").Bytes()
				if err != nil {
					t.Fatal(err)
				}
				m, err := taskq.DecodeMessage(raw)
				if err != nil {
					t.Fatal(err)
				}
				if !taskq.IsChunk(m.Payload) {
					p, err := taskq.DecodePayload(m.Payload)
					if err != nil || !bytes.Equal(raw, []byte(msgs[p.Key])) {
						t.Fatalf("task %s: message is not the task's own (%v)", id, err)
					}
					got, sizes = append(got, p.Key), append(sizes, 1)
					continue
				}
				gid, members, err := taskq.DecodeChunk(m.Payload)
				if err != nil || gid != g.ID {
					t.Fatalf("chunk %s: graph %q, %v", id, gid, err)
				}
				var own [][]byte
				for _, mm := range members {
					p, err := taskq.DecodePayload(mm.Payload)
					if err != nil {
						t.Fatal(err)
					}
					own = append(own, []byte(msgs[p.Key]))
					got = append(got, p.Key)
				}
				first, _ := taskq.DecodePayload(members[0].Payload)
				wantMsg := taskq.Message{Type: taskq.TypeTask, Payload: taskq.EncodeChunk(g.ID, own), ID: g.ID + ":" + first.Key + taskq.ChunkSuffix,
					Queue: queue, Retry: rmax, Timeout: time.Duration(len(members)) * tmax}
				if !bytes.Equal(raw, wantMsg.Encode()) {
					t.Fatalf("chunk %s: message %q, want %q (taskq's encoding of the same members)", id, raw, wantMsg.Encode())
				}
				sizes = append(sizes, len(members))
			}
			slices.Sort(got)
			slices.Sort(want)
			slices.Sort(sizes)
			if !slices.Equal(got, want) || !slices.Equal(sizes, c.sizes) {
				t.Fatalf("dispatched %v in asynq tasks of sizes %v, want %v in %v", got, sizes, want, c.sizes)
			}
		})
	}
}
