package speed_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestRepublishedBehindWatermarkCountsOnce lays a partition's stream out as
// the kill of a RabbitMQ stream leader leaves it (chaos scenario
// rabbit-leader-kill): the messages published while the stream elected a new
// leader were neither confirmed nor refused and are missing; later messages,
// published once the new leader was up, got through; the replayer published
// the missing ones again after its confirm timeout, together with messages
// the broker had in fact stored (retries). At 20,000x replay speed those
// 10 s are 55 hours of event time (here 5), so the republished events are far behind
// the partition's watermark. They fill gaps of the producer's seqs: each must
// count exactly once, including when its hour was already evicted from the
// owner's state (the first refill, read by w1) and when the gap comes from
// the committed marks of another worker (the second, read by w2). An event
// that comes in its producer's order that far behind is still late: counted,
// left out.
func TestRepublishedBehindWatermarkCountsOnce(t *testing.T) {
	e := newEnv(t)
	const origin, dest = "ATL", "LAX"
	p := e.streams.PartitionOf(origin)
	t0 := time.Date(2001, 1, 3, 5, 0, 0, 0, time.UTC)
	event := replayEvent("rp", t0, origin, dest)
	// Seqs 1-20 in hour 05, seqs 21-30 five hours later (under the
	// future bound), seq 31 back in hour 06.
	ev := map[uint64]flight.Event{}
	for s := uint64(1); s <= 31; s++ {
		switch {
		case s <= 20:
			ev[s] = event(s, time.Duration(s)*time.Minute)
		case s <= 30:
			ev[s] = event(s, 5*time.Hour+time.Duration(s)*time.Minute)
		default:
			ev[s] = event(s, time.Hour)
		}
	}
	seqs := func(lo, hi uint64) []flight.Event {
		var out []flight.Event
		for s := lo; s <= hi; s++ {
			out = append(out, ev[s])
		}
		return out
	}
	published := make([]int64, e.streams.Partitions)
	publish := e.eventPublisher("replay", p, published)

	stop1, _ := e.inProcess("w1")
	publish(seqs(1, 10))
	// Seqs 11-20 lost in the election; 21-30 got through.
	publish(seqs(21, 30))
	e.waitCommitted(published, time.Minute)
	// The republication: w1's state has evicted hour 05 by now (its
	// watermark is 09:21); the refill must add to what Redis holds.
	publish(seqs(11, 15))
	e.waitCommitted(published, time.Minute)
	stop1()
	// Another worker: the remaining gap (16-20) comes from the committed
	// marks. Then retries of stored messages, and one event in order but
	// behind the watermark.
	e.inProcess("w2")
	publish(seqs(16, 25))
	publish(seqs(26, 30))
	publish(seqs(31, 31))
	e.waitCommitted(published, time.Minute)

	// The exact views, from the events themselves: seqs 1-30, not 31.
	type key struct {
		view, group string
		hour        int64
	}
	want := map[key]flight.Stats{}
	for s := uint64(1); s <= 30; s++ {
		h := flight.Hour(ev[s].Time)
		for _, k := range []key{{"airport_hour", origin, h}, {"route_hour", origin + "-" + dest, h}} {
			st := want[k]
			st.Add(ev[s].Delay)
			want[k] = st
		}
	}
	late := flight.Hour(ev[31].Time)
	want[key{"airport_hour", origin, late}] = flight.Stats{}
	for k, w := range want {
		bs, err := e.reader.Buckets(context.Background(), []store.Ref{{View: k.view, Group: k.group, Hour: k.hour}})
		if err != nil {
			t.Fatal(err)
		}
		if got := bs[0]; got.Stats != w {
			t.Errorf("%s %s %s: %+v, want %+v", k.view, k.group, time.Unix(k.hour, 0).UTC().Format("2006-01-02T15"), got.Stats, w)
		}
	}
	st, err := e.reader.Partition(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 30 || st.Late != 1 || st.Duplicates != 10 {
		t.Errorf("partition %d: applied %d, late %d, duplicates %d; want 30, 1, 10", p, st.Applied, st.Late, st.Duplicates)
	}
	if m := st.Seqs["replay"].String(); m != "31" {
		t.Errorf("dedup mark %q, want 31 (no gap left)", m)
	}
}
