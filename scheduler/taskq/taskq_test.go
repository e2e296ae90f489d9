package taskq

import (
	"context"
	"reflect"
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

func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range []Payload{
		{Graph: "g", Key: "k", Func: "noop"},
		{Graph: "g-1", Key: "sum/3", Func: "spin", Args: []byte{0, 1, '{', 0xff}, Deps: []string{"a", "", "b/c"}, TimeoutMS: 1500, ResultTTLMS: 86_400_000},
	} {
		b, err := EncodePayload(&p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePayload(b)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if !reflect.DeepEqual(*got, p) {
			t.Fatalf("round trip: got %+v, want %+v", *got, p)
		}
	}
}

// TestPayloadLegacyJSON: tasks enqueued by an earlier version (JSON
// payloads) are still read after an upgrade.
func TestPayloadLegacyJSON(t *testing.T) {
	got, err := DecodePayload([]byte(`{"g":"g","k":"k","f":"noop","a":"AQI=","d":["x","y"],"t":5,"r":7}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Payload{Graph: "g", Key: "k", Func: "noop", Args: []byte{1, 2}, Deps: []string{"x", "y"}, TimeoutMS: 5, ResultTTLMS: 7}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
}

func TestPayloadRejectsBadInput(t *testing.T) {
	good, _ := EncodePayload(&Payload{Graph: "g", Key: "k", Func: "f"})
	noFunc, _ := EncodePayload(&Payload{Graph: "g", Key: "k"})
	for name, b := range map[string][]byte{
		"empty":            nil,
		"unknown format":   []byte("garbage"),
		"truncated":        good[:len(good)-1],
		"missing func":     noFunc,
		"unknown field":    append(append([]byte{}, good...), 0x48, 0x01), // field 9, varint
		"bad json":         []byte(`{"g":`),
		"json without key": []byte(`{"g":"g","f":"noop"}`),
	} {
		if _, err := DecodePayload(b); err == nil {
			t.Errorf("%s: decoded %q without an error", name, b)
		}
	}
}
