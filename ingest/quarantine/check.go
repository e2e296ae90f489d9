package quarantine

import (
	"fmt"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/wire"
)

// Reason prefixes of the quarantines decided event by event (a message that
// cannot be decoded has the decoder's reason instead).
const (
	// ReasonPartition: the event's origin hashes to another partition.
	ReasonPartition = "partition"
	// ReasonFuture: the event is too far ahead of the partition's watermark.
	ReasonFuture = "future"
)

// CheckPartition returns why event e does not belong to partition p of n
// (flight.Partition of its origin is another), or "" if it does. The speed
// layer and the archiver both call it, so that they agree on what they leave
// out: one partition per airport is what lets every airport's views be
// computed by one partition's owner.
func CheckPartition(e *flight.Event, p, n int) string {
	if want := flight.Partition(e.Origin, n); want != p {
		return fmt.Sprintf("%s: origin %q belongs to partition %d, not %d (event %q)", ReasonPartition, e.Origin, want, p, e.ID)
	}
	return ""
}

// CheckFuture returns why an event at eventTime (µs) is too far ahead of
// watermark (µs, the later of the partition's newest accepted event time and
// its producer's clock, stream.ClockHeader; 0: none yet),
// given the bound maxAhead (0: no bound), or "" if it is not. With no
// watermark yet there is nothing to measure against, and the event is
// accepted.
func CheckFuture(e *flight.Event, watermark int64, maxAhead time.Duration) string {
	if maxAhead <= 0 || watermark == 0 {
		return ""
	}
	ahead := time.Duration(e.Time-watermark) * time.Microsecond
	if ahead <= maxAhead {
		return ""
	}
	return fmt.Sprintf("%s: event time %s is %s ahead of the partition's watermark (or its producer's clock) %s (bound %s; event %q)", ReasonFuture,
		time.UnixMicro(e.Time).UTC().Format(time.RFC3339), ahead.Round(time.Second), time.UnixMicro(watermark).UTC().Format(time.RFC3339), maxAhead, e.ID)
}

// EventBody is the body kept for one event quarantined alone: its JSON form,
// a valid message by itself, which `tributary quarantine requeue` publishes
// again as is.
func EventBody(e *flight.Event) []byte { return wire.AppendJSON(nil, e) }
