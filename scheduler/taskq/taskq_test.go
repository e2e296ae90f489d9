package taskq

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tributary-dev/tributary/internal/testenv"
)

func TestMessageRoundTrip(t *testing.T) {
	m := Message{Type: TypeTask, Payload: []byte(`{"x":1}`), ID: "g:k@2", Queue: "q", Retry: 3, Timeout: 1500 * time.Millisecond}
	got, err := DecodeMessage(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m.Timeout = 2 * time.Second // rounded up
	if got.Type != m.Type || string(got.Payload) != string(m.Payload) || got.ID != m.ID || got.Queue != m.Queue || got.Retry != m.Retry || got.Timeout != m.Timeout {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
	if Attempt(m.ID) != 2 || Attempt("g:k") != 0 || TaskID("g", "k", 2) != "g:k@2" {
		t.Fatal("attempt parsing")
	}
}

// TestAsynqReadsOurMessages pins the contract with asynq's Redis layout: a
// task written the way our Lua scripts write it is seen by asynq's Inspector
// with the right type, payload, queue, retry and timeout.
func TestAsynqReadsOurMessages(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	q := testenv.Prefix(t)
	m := Message{Type: TypeTask, Payload: []byte("hello"), ID: "g1:k1", Queue: q, Retry: 4, Timeout: 3 * time.Second}
	pfx := QueueKeyPrefix(q)
	if err := rdb.HSet(ctx, pfx+"t:"+m.ID, "msg", m.Encode(), "state", "pending", "pending_since", time.Now().UnixNano()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.LPush(ctx, pfx+"pending", m.ID)
	rdb.SAdd(ctx, AllQueuesKey, q)
	ins := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = ins.DeleteQueue(q, true); rdb.SRem(context.Background(), AllQueuesKey, q) })
	info, err := ins.GetTaskInfo(q, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != m.Type || string(info.Payload) != "hello" || info.Queue != q || info.MaxRetry != 4 || info.Timeout != 3*time.Second || info.State != asynq.TaskStatePending {
		t.Fatalf("asynq sees %+v", info)
	}
}
