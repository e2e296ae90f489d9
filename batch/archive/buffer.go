package archive

import (
	"unsafe"

	"github.com/tributary-dev/tributary/flight"
)

// buffer holds a partition's events between two cuts by column: the IDs'
// bytes end to end, the airport codes and producers as indexes into a small
// table of distinct strings, the numbers as they are. An event costs ~45
// bytes here against ~105 as a flight.Event with its own ID string; with
// eight partitions of up to 100,000 events each, that was most of the
// archiver's live heap. It implements segment.Events. Not safe for
// concurrent use.
type buffer struct {
	ids      []byte
	idEnd    []uint32 // event i's ID is ids[idEnd[i-1]:idEnd[i]]
	time     []int64
	delay    []int32
	distance []int32
	seq      []uint64
	origin   []uint32
	dest     []uint32
	producer []uint32
	names    []string
	nameIdx  map[string]uint32
}

// Len is the number of events held.
func (b *buffer) Len() int { return len(b.time) }

// add appends e; its strings are copied (or found in the table).
func (b *buffer) add(e *flight.Event) {
	b.ids = append(b.ids, e.ID...)
	b.idEnd = append(b.idEnd, uint32(len(b.ids)))
	b.time = append(b.time, e.Time)
	b.delay = append(b.delay, e.Delay)
	b.distance = append(b.distance, e.Distance)
	b.seq = append(b.seq, e.Seq)
	b.origin = append(b.origin, b.name(e.Origin))
	b.dest = append(b.dest, b.name(e.Destination))
	b.producer = append(b.producer, b.name(e.Producer))
}

func (b *buffer) name(s string) uint32 {
	if i, ok := b.nameIdx[s]; ok {
		return i
	}
	if b.nameIdx == nil {
		b.nameIdx = map[string]uint32{}
	}
	i := uint32(len(b.names))
	s = string([]byte(s)) // own copy: s may point into a message body
	b.names = append(b.names, s)
	b.nameIdx[s] = i
	return i
}

// At reads event i into e. e.ID points into the buffer: it is valid until
// the next reset.
func (b *buffer) At(i int, e *flight.Event) {
	lo := uint32(0)
	if i > 0 {
		lo = b.idEnd[i-1]
	}
	id := b.ids[lo:b.idEnd[i]]
	*e = flight.Event{ID: unsafe.String(unsafe.SliceData(id), len(id)), Time: b.time[i], Origin: b.names[b.origin[i]],
		Destination: b.names[b.dest[i]], Delay: b.delay[i], Distance: b.distance[i], Producer: b.names[b.producer[i]], Seq: b.seq[i]}
}

// reset empties the buffer, keeping its memory for the next segment; the
// table of names is kept too (airports and producers recur).
func (b *buffer) reset() {
	b.ids, b.idEnd, b.time, b.delay, b.distance, b.seq = b.ids[:0], b.idEnd[:0], b.time[:0], b.delay[:0], b.distance[:0], b.seq[:0]
	b.origin, b.dest, b.producer = b.origin[:0], b.dest[:0], b.producer[:0]
	if len(b.names) > 1<<16 {
		b.names, b.nameIdx = nil, nil // bound a table fed by odd data
	}
}
