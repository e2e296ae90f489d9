package agg

import (
	"time"

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
	// Future and Misplaced count the events quarantined (and counted in
	// Quarantined) for being too far ahead of the watermark or in the wrong
	// partition.
	Future, Misplaced int64
	// Refilled counts the events applied (and counted in Applied) although
	// older than the watermark, because they filled a gap in their
	// producer's seqs: sent again after a broker failure, not late.
	Refilled int64
}

// Kinds of refused events, counted per producer.
const (
	KindLate      = "late"
	KindFuture    = "future"
	KindPartition = "partition"
)

// Refusal names a kind of refused event and its producer.
type Refusal struct{ Kind, Producer string }

// Refused is what was refused since the last flush: counts per kind and
// producer, and one sample event (with its reason) per kind, for the log.
type Refused struct {
	Counts  map[Refusal]int64
	Samples map[string]Sample
}

// Sample is one refused event and why.
type Sample struct {
	Event  flight.Event
	Reason string
}

// Partition aggregates one partition between two flushes. Not safe for concurrent use.
type Partition struct {
	views    []flight.View
	lateness int64 // µs

	committedOffset  int64
	committedMaxTime int64
	offset           int64
	maxTime          int64
	minApplied       int64 // lowest event time applied since the last flush, 0: none
	seqs             *dedup.Seqs

	buckets    map[BucketID]*Delta
	spare      [][]*Delta               // per view, deltas of committed flushes, emptied, for reuse
	keyBuf     []byte                   // a group key being built
	groups     []map[string]*groupCache // per view, by group key
	gen        uint64                   // flushes committed: a groupCache of another is stale
	quarantine []Quarantined
	counters   Counters
	refused    Refused
	messages   int64

	// Checks (see WithChecks); partitions 0: no partition check.
	part, partitions int
	maxFuture        time.Duration
	maxBody          int
}

// New starts aggregating from committed progress, with the views to compute
// and the allowed lateness in µs.
func New(views []flight.View, lateness int64, from Progress) *Partition {
	p := &Partition{
		views: views, lateness: lateness,
		committedOffset: from.Offset, committedMaxTime: from.MaxTime, offset: from.Offset, maxTime: from.MaxTime,
		seqs: dedup.New(from.Seqs), buckets: map[BucketID]*Delta{},
		groups: make([]map[string]*groupCache, len(views)), spare: make([][]*Delta, len(views)),
		refused: Refused{Counts: map[Refusal]int64{}, Samples: map[string]Sample{}},
	}
	return p
}

// WithChecks makes p quarantine the events whose origin is not in partition
// part of partitions, and those more than maxFuture (0: no bound) ahead of
// the partition's newest accepted event time, keeping at most maxBody bytes
// of each. It returns p.
func (p *Partition) WithChecks(part, partitions int, maxFuture time.Duration, maxBody int) *Partition {
	p.part, p.partitions, p.maxFuture, p.maxBody = part, partitions, maxFuture, maxBody
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
// one by one: quarantined (wrong partition, or too far in the future),
// duplicate (seq already applied), late (older than the watermark) or
// applied.
func (p *Partition) Message(offset int64, events []flight.Event) {
	p.MessageWithClock(offset, 0, events)
}

// MessageWithClock is Message for a message that carries its producer's
// clock (µs, stream.ClockHeader; 0: none): how far ahead an event is is
// measured from the later of the partition's newest event time and that
// clock, so that the next event of a partition silent for longer than the
// bound (one airport's night, with many partitions) is not refused as
// "future" while the rest of its producer's stream has moved on.
func (p *Partition) MessageWithClock(offset, clock int64, events []flight.Event) {
	p.offset = offset
	p.messages++
	for i := range events {
		e := &events[i]
		// Checked before the seq is admitted: a quarantined event does not
		// consume its seq, so that its producer may send it again, fixed.
		if p.partitions > 0 {
			if r := quarantine.CheckPartition(e, p.part, p.partitions); r != "" {
				p.counters.Misplaced++
				p.quarantineEvent(offset, e, KindPartition, r)
				continue
			}
		}
		if r := quarantine.CheckFuture(e, max(p.maxTime, clock), p.maxFuture); r != "" {
			p.counters.Future++
			p.quarantineEvent(offset, e, KindFuture, r)
			continue
		}
		// A late event is admitted too: its retry is a duplicate.
		adm := p.seqs.Classify(e.Producer, e.Seq)
		if adm == dedup.Duplicate {
			p.counters.Duplicates++
			continue
		}
		if p.maxTime != 0 && e.Time < p.maxTime-p.lateness {
			// Lateness is judged in the producer's own order, which no
			// republication can change. An event that fills a gap in its
			// producer's seqs was sent before events already applied: it
			// lands behind them only because the broker lost it and the
			// publisher sent it again (a stream leader killed: the
			// messages published during the election are neither
			// confirmed nor refused, the later ones go through, and the
			// lost ones come back after the confirm timeout, hours of event
			// time behind at a fast replay). It is applied, and counted as
			// Refilled: leaving it out would lose it from the views. Its
			// bucket, evicted from the owner's state, is loaded again from
			// Redis by the flush.
			if adm == dedup.InOrder {
				p.counters.Late++
				p.refuse(e, KindLate, "late: older than the partition's watermark minus the allowed lateness")
				continue
			}
			p.counters.Refilled++
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
	bin := flight.SketchBin(e.Delay)
	for vi, v := range p.views {
		d := p.delta(vi, v, e, hour)
		d.Stats.Add(e.Delay)
		d.Sketch.AddBin(bin, 1)
		if d.Dests != nil {
			d.Dests[e.Destination] = struct{}{}
		}
	}
}

// maxSpare bounds the emptied deltas kept per view: a flush's worth (the
// worker's default --max-pending-buckets is 4,096), a few MB.
const maxSpare = 8192

// groupCache is what p remembers of one group of a view: its key, and the
// delta of the hour it last took an event in (events come in time order,
// so the next one of the group is almost always in the same hour).
type groupCache struct {
	group string
	gen   uint64 // p.gen when d was taken: d is p's until the next commit
	hour  int64
	d     *Delta
	// maxHour is the latest hour of the group's buckets in generation gen.
	maxHour int64
}

// maxGroups bounds the groups p remembers per view: far more than the
// routes of a partition (a few hundred), so that only a stream of made-up
// airports ever clears them.
const maxGroups = 1 << 16

// delta returns the delta of e's bucket in view vi. The group key is built
// in a reused buffer and looked up among the groups seen before, which
// also gives the group's current delta without a lookup of its bucket: the
// speed worker applies hundreds of thousands of events a second, and a new
// string per event and two map lookups per event and view were a third of
// its aggregation's CPU.
func (p *Partition) delta(vi int, v flight.View, e *flight.Event, hour int64) *Delta {
	p.keyBuf = v.AppendKey(p.keyBuf[:0], e)
	gs := p.groups[vi]
	g := gs[string(p.keyBuf)] // no allocation: a lookup
	if g == nil {
		if gs == nil || len(gs) >= maxGroups {
			gs = make(map[string]*groupCache)
			p.groups[vi] = gs
		}
		g = &groupCache{group: string(p.keyBuf)}
		gs[g.group] = g
	}
	switch {
	case g.gen == p.gen && g.d != nil && g.hour == hour:
		return g.d
	case g.gen != p.gen || hour > g.maxHour:
		// The group has no bucket of this hour yet: the buckets were
		// emptied by a commit since it last took an event, or the hour is
		// after every hour it took one in since (most events of a route
		// are the first of their bucket: no lookup for them).
		d := p.newDelta(vi, v)
		p.buckets[BucketID{View: vi, Group: g.group, Hour: hour}] = d
		g.d, g.gen, g.hour, g.maxHour = d, p.gen, hour, hour
		return d
	}
	id := BucketID{View: vi, Group: g.group, Hour: hour}
	d := p.buckets[id]
	if d == nil {
		d = p.newDelta(vi, v)
		p.buckets[id] = d
	}
	g.d, g.hour = d, hour
	return d
}

// newDelta returns an empty delta for view vi, reusing a committed one.
func (p *Partition) newDelta(vi int, v flight.View) *Delta {
	if n := len(p.spare[vi]); n > 0 {
		d := p.spare[vi][n-1]
		p.spare[vi] = p.spare[vi][:n-1]
		return d
	}
	d := &Delta{}
	if v.DistinctDestinations {
		d.Dests = make(map[string]struct{}, 4)
	}
	return d
}

// quarantineEvent keeps one event aside, alone, in its JSON form.
func (p *Partition) quarantineEvent(offset int64, e *flight.Event, kind, reason string) {
	p.quarantine = append(p.quarantine, Quarantined{Offset: offset, Reason: reason, Body: quarantine.Cut(quarantine.EventBody(e), p.maxBody)})
	p.counters.Quarantined++
	p.refuse(e, kind, reason)
}

// refuse counts a refused event per producer and keeps the first of its kind.
func (p *Partition) refuse(e *flight.Event, kind, reason string) {
	p.refused.Counts[Refusal{Kind: kind, Producer: e.Producer}]++
	if _, ok := p.refused.Samples[kind]; !ok {
		ev := *e
		p.refused.Samples[kind] = Sample{Event: ev, Reason: reason}
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
	// PrevMaxTime is the highest event time (µs) committed before this
	// flush, 0 when none: no bucket of a later hour exists yet.
	PrevMaxTime int64
	MaxTime     int64
	// Watermark is the partition's watermark once this flush is committed
	// (Partition.Watermark): the buckets of hours that end at or before it
	// are only reachable by a refill any more.
	Watermark int64
	// MinTime is the lowest event time applied by this flush (µs), 0 if none.
	MinTime int64
	// Seqs holds the producers whose dedup mark changed.
	Seqs       map[string]dedup.Mark
	Buckets    map[BucketID]*Delta
	Quarantine []Quarantined
	Counters   Counters
	Refused    Refused
	Messages   int64
}

// Pending returns the pending flush. It stays valid until Committed, which
// empties its buckets for reuse (its counters and refusals stay valid).
func (p *Partition) Pending() Pending {
	return Pending{
		PrevOffset: p.committedOffset, Offset: p.offset, PrevMaxTime: p.committedMaxTime, MaxTime: p.maxTime, Watermark: p.Watermark(), MinTime: p.minApplied, Seqs: p.seqs.Changed(),
		Buckets: p.buckets, Quarantine: p.quarantine, Counters: p.counters, Refused: p.refused, Messages: p.messages,
	}
}

// Committed records that the pending flush was written: deltas start afresh.
func (p *Partition) Committed() {
	p.committedOffset = p.offset
	p.committedMaxTime = p.maxTime
	p.gen++ // the groups' deltas are emptied below
	// The deltas are emptied and kept for the next flushes, with their
	// sketches' and sets' room: a flush of a catching-up partition writes
	// thousands of buckets, and allocating them anew was most of the
	// worker's garbage.
	for id, d := range p.buckets {
		if len(p.spare[id.View]) >= maxSpare {
			continue
		}
		d.Stats = flight.Stats{}
		d.Sketch.Reset()
		clear(d.Dests)
		p.spare[id.View] = append(p.spare[id.View], d)
	}
	clear(p.buckets)
	p.quarantine = nil
	p.counters = Counters{}
	p.refused = Refused{Counts: map[Refusal]int64{}, Samples: map[string]Sample{}}
	p.messages = 0
	p.minApplied = 0
	p.seqs.Committed()
}
