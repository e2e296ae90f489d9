package speed

import (
	"log/slog"
	"time"

	"github.com/tributary-dev/tributary/speed/agg"
)

// refusalLogEvery bounds the log lines about refused events to one per
// partition and period: a replay with a wrong clock would otherwise log every
// event.
const refusalLogEvery = 10 * time.Second

// refusalLog accumulates a partition's refused events (late, future, wrong
// partition) and logs them at most once per refusalLogEvery, with the counts
// since the last line and one sample event of each kind.
type refusalLog struct {
	last    time.Time
	counts  map[agg.Refusal]int64
	samples map[string]agg.Sample
}

// add takes in the refusals of one flush committed at now, and logs if due.
func (l *refusalLog) add(r agg.Refused, now time.Time, log *slog.Logger) {
	if len(r.Counts) == 0 && len(l.counts) == 0 {
		return
	}
	if l.counts == nil {
		l.counts, l.samples = map[agg.Refusal]int64{}, map[string]agg.Sample{}
	}
	for k, n := range r.Counts {
		l.counts[k] += n
	}
	for k, s := range r.Samples {
		if _, ok := l.samples[k]; !ok {
			l.samples[k] = s
		}
	}
	if now.Sub(l.last) < refusalLogEvery {
		return
	}
	l.last = now
	for kind, s := range l.samples {
		total, perProducer := int64(0), map[string]int64{}
		for k, n := range l.counts {
			if k.Kind == kind {
				total += n
				perProducer[k.Producer] += n
			}
		}
		log.Warn("events left out of the views", "kind", kind, "events", total, "per_producer", perProducer,
			"sample_id", s.Event.ID, "sample_time", time.UnixMicro(s.Event.Time).UTC(), "sample_origin", s.Event.Origin,
			"sample_producer", s.Event.Producer, "sample_reason", s.Reason)
	}
	clear(l.counts)
	clear(l.samples)
}
