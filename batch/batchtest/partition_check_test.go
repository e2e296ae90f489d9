package batchtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/quarantine"
	"github.com/tributary-dev/tributary/ingest/wire"
)

// TestArchiverQuarantinesMisplacedEvents publishes an ATL event into another
// partition among real ones: the archiver sets it aside with reason
// "partition" (the check the speed layer shares) and archives every other
// event, and no segment holds it.
func TestArchiverQuarantinesMisplacedEvents(t *testing.T) {
	e := newEnv(t)
	e.startArchiver(2000)
	const n = 5_000
	e.feed(0, n, "replay")
	atl := flight.Partition("ATL", e.streams.Partitions)
	wrong := (atl + 1) % e.streams.Partitions
	stray := flight.Event{ID: "misplaced-1", Time: time.Date(2001, 1, 1, 6, 0, 0, 0, time.UTC).UnixMicro(), Origin: "ATL",
		Destination: "LAX", Delay: 3, Distance: 1946, Producer: "pika", Seq: 1}
	publishRaw(t, e, wrong, wire.ContentTypeJSON, quarantine.EventBody(&stray))
	key := batchkeys.New(e.prefix).Quarantine(wrong)
	waitFor(t, 2*time.Minute, "the misplaced event quarantined", func() bool {
		n, _ := e.rdb.LLen(context.Background(), key).Result()
		return n >= 1
	})
	st := e.waitArchived(n)
	raws, err := e.rdb.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != 1 {
		t.Fatalf("%d quarantine entries, want 1: %v", len(raws), raws)
	}
	q, err := quarantine.Decode(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	if q.Partition != wrong || !strings.HasPrefix(q.Reason, "partition: origin \"ATL\" belongs to partition") || string(q.Body) != string(quarantine.EventBody(&stray)) {
		t.Errorf("entry %+v", q)
	}
	for p, evs := range segmentEvents(t, e.storeDir, st) {
		for _, ev := range evs {
			if ev.ID == stray.ID {
				t.Errorf("partition %d archived the misplaced event", p)
			}
		}
	}
}
