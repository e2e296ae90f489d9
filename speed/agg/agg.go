package agg

import (
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dedup"
	"github.com/tributary-dev/tributary/ingest/quarantine"
)

// Progress is a partition's committed position, as stored with the views.
type Progress struct {
	// Offset is the last stream offset applied, -1 when nothing was.
	Offset int64
	// MaxTime is the highest event time applied (µs), 0 when none.
	MaxTime int64
	// Seqs is each producer's dedup mark: the highest applied sequence
	// number and the seqs below it not seen yet.
	Seqs map[string]dedup.Mark
}

// BucketID names one bucket: a view (index into the views), a group and an hour.
type BucketID struct {
	View  int
	Group string
	Hour  int64
}

// Delta is what a flush adds to one bucket.
type Delta struct {
	Stats  flight.Stats
	Sketch flight.DelaySketch
	// Dests holds the destinations seen, for views that count them.
	Dests map[string]struct{}
}

// Quarantined is a message left out of the views because it is malformed.
type Quarantined struct {
	Offset int64
	Reason string
	Body   []byte
}

// Counters count what happened to events since the last flush.
type Counters struct {
	Applied, Late, Duplicates, Quarantined int64
}

// Partition aggregates one partition between two flushes. Not safe for concurrent use.
type Partition struct {
	views    []flight.View
	lateness int64 // µs

	committedOffset int64
	offset          int64
	maxTime         int64
	minApplied      int64 // lowest event time applied since the last flush, 0: none
	seqs            *dedup.Seqs

	buckets    map[BucketID]*Delta
	quarantine []Quarantined
	counters   Counters
	messages   int64
}

// New starts aggregating from committed progress, with the views to compute
// and the allowed lateness in µs.
func New(views []flight.View, lateness int64, from Progress) *Partition {
	p := &Partition{
		views: views, lateness: lateness,
		committedOffset: from.Offset, offset: from.Offset, maxTime: from.MaxTime,
		seqs: dedup.New(from.Seqs), buckets: map[BucketID]*Delta{},
	}
	return p
}

// Offset is the last offset taken in (committed or pending).
func (p *Partition) Offset() int64 { return p.offset }

// CommittedOffset is the offset of the last successful flush (or of New).
func (p *Partition) CommittedOffset() int64 { return p.committedOffset }

// Watermark is the event time (µs) below which an event is late; 0 before any event.
func (p *Partition) Watermark() int64 {
	if p.maxTime == 0 {
		return 0
	}
	return p.maxTime - p.lateness
}

// Message takes in the events of the message at offset. Events are decided
// one by one: duplicate (seq already applied), late (older than the
// watermark) or applied.
func (p *Partition) Message(offset int64, events []flight.Event) {
	p.offset = offset
	p.messages++
	for i := range events {
		e := &events[i]
		// A late event is admitted too: its retry is a duplicate.
		if !p.seqs.Admit(e.Producer, e.Seq) {
			p.counters.Duplicates++
			continue
		}
		if p.maxTime != 0 && e.Time < p.maxTime-p.lateness {
			p.counters.Late++
			continue
		}
		if e.Time > p.maxTime {
			p.maxTime = e.Time
		}
		p.apply(e)
	}
}

func (p *Partition) apply(e *flight.Event) {
	p.counters.Applied++
	if p.minApplied == 0 || e.Time < p.minApplied {
		p.minApplied = e.Time
	}
	hour := flight.Hour(e.Time)
	for vi, v := range p.views {
		id := BucketID{View: vi, Group: v.Key(e), Hour: hour}
		d := p.buckets[id]
		if d == nil {
			d = &Delta{}
			if v.DistinctDestinations {
				d.Dests = make(map[string]struct{}, 4)
			}
			p.buckets[id] = d
		}
		d.Stats.Add(e.Delay)
		d.Sketch.Add(e.Delay)
		if d.Dests != nil {
			d.Dests[e.Destination] = struct{}{}
		}
	}
}

// Malformed takes in a message that cannot be decoded: it is quarantined and
// its offset consumed. body is copied, up to maxBody bytes.
func (p *Partition) Malformed(offset int64, reason string, body []byte, maxBody int) {
	p.offset = offset
	p.messages++
	p.quarantine = append(p.quarantine, Quarantined{Offset: offset, Reason: reason, Body: quarantine.Cut(body, maxBody)})
	p.counters.Quarantined++
}

// Skip consumes an offset without anything to apply (e.g. an empty message).
func (p *Partition) Skip(offset int64) { p.offset = offset; p.messages++ }

// Dirty says whether anything was taken in since the last flush.
func (p *Partition) Dirty() bool { return p.offset != p.committedOffset }

// PendingBuckets is the number of buckets a flush would write.
func (p *Partition) PendingBuckets() int { return len(p.buckets) }

// Pending describes what the next flush must write.
type Pending struct {
	PrevOffset, Offset int64
	MaxTime            int64
	// MinTime is the lowest event time applied by this flush (µs), 0 if none.
	MinTime int64
	// Seqs holds the producers whose dedup mark changed.
	Seqs       map[string]dedup.Mark
	Buckets    map[BucketID]*Delta
	Quarantine []Quarantined
	Counters   Counters
	Messages   int64
}

// Pending returns the pending flush. It stays valid until Committed.
func (p *Partition) Pending() Pending {
	return Pending{
		PrevOffset: p.committedOffset, Offset: p.offset, MaxTime: p.maxTime, MinTime: p.minApplied, Seqs: p.seqs.Changed(),
		Buckets: p.buckets, Quarantine: p.quarantine, Counters: p.counters, Messages: p.messages,
	}
}

// Committed records that the pending flush was written: deltas start afresh.
func (p *Partition) Committed() {
	p.committedOffset = p.offset
	p.buckets = make(map[BucketID]*Delta, len(p.buckets))
	p.quarantine = nil
	p.counters = Counters{}
	p.messages = 0
	p.minApplied = 0
	p.seqs.Committed()
}
