package taskq

import (
	"strings"
	"testing"
)

// TestQueuesShareTheSchedulerSlot: the default queues' asynq keys
// ("asynq:{NAME}:...") have the key prefix as their hash tag, the tag of the
// scheduler's keys, and queues of another tag are refused.
func TestQueuesShareTheSchedulerSlot(t *testing.T) {
	qs := DefaultQueues("t-x")
	for _, q := range qs.All() {
		key := "asynq:{" + q + "}:pending"
		open := strings.IndexByte(key, '{')
		tag := key[open+1 : open+1+strings.IndexByte(key[open+1:], '}')]
		if tag != "t-x" || SlotTag(q) != "t-x" {
			t.Errorf("queue %q: key %s has hash tag %q, SlotTag %q, want t-x", q, key, tag, SlotTag(q))
		}
	}
	if err := qs.CheckSlot("t-x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		qs  Queues
		tag string
	}{
		{DefaultQueues("t-x"), "t-y"},
		{Queues{Default: "t-x.default", Batch: "t-x.batch"}, "t-x"},
		{Queues{Default: "t-x}.default", Batch: "other}.batch"}, "t-x"},
	} {
		if err := tc.qs.CheckSlot(tc.tag); err == nil || !strings.Contains(err.Error(), "slot") {
			t.Errorf("%+v under {%s}: %v, want an error", tc.qs.All(), tc.tag, err)
		}
	}
}
