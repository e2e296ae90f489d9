package flight

import (
	"fmt"
	"hash/fnv"
	"time"
)

// Event is one flight, the unit of data of the whole pipeline.
type Event struct {
	// ID is stable across replays: the same flight always has the same ID.
	ID string
	// Time is the event time (scheduled departure) in microseconds since the Unix epoch, UTC.
	Time int64
	// Origin and Destination are IATA airport codes.
	Origin      string
	Destination string
	// Delay is the departure delay in whole minutes; negative when early.
	Delay int32
	// Distance is the route length in miles.
	Distance int32
	// Producer names who published the event, and Seq is that producer's
	// sequence number of the event within its partition, starting at 1.
	// Together they let consumers drop the duplicates that a producer retry
	// creates. Seq 0 means "no sequence": the event is never deduplicated.
	Producer string
	Seq      uint64
}

// Limits of a valid event. They are wide on purpose: they reject garbage, not
// unusual flights (the data set's delays span -1,116 to 1,688 minutes).
const (
	MaxIDLen       = 64
	MaxProducerLen = 64
	MinDelay       = -7 * 24 * 60
	MaxDelay       = 7 * 24 * 60
	MaxDistance    = 20000
)

var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// FieldError says which field of an event is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Reason) }

// EventTime returns Time as a time.Time in UTC.
func (e *Event) EventTime() time.Time { return time.UnixMicro(e.Time).UTC() }

// Validate checks every field and returns a *FieldError for the first bad one.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return &FieldError{"id", "must not be empty"}
	case len(e.ID) > MaxIDLen:
		return &FieldError{"id", fmt.Sprintf("is %d bytes long, more than %d", len(e.ID), MaxIDLen)}
	case !printable(e.ID):
		return &FieldError{"id", "must be printable ASCII"}
	case e.Time < minTime || e.Time >= maxTime:
		return &FieldError{"time", fmt.Sprintf("%d µs is outside 1970..2100", e.Time)}
	}
	if err := validAirport(e.Origin); err != "" {
		return &FieldError{"origin", err}
	}
	if err := validAirport(e.Destination); err != "" {
		return &FieldError{"destination", err}
	}
	switch {
	case e.Delay < MinDelay || e.Delay > MaxDelay:
		return &FieldError{"delay", fmt.Sprintf("%d minutes is outside %d..%d", e.Delay, MinDelay, MaxDelay)}
	case e.Distance <= 0 || e.Distance > MaxDistance:
		return &FieldError{"distance", fmt.Sprintf("%d miles is outside 1..%d", e.Distance, MaxDistance)}
	case len(e.Producer) > MaxProducerLen:
		return &FieldError{"producer", fmt.Sprintf("is %d bytes long, more than %d", len(e.Producer), MaxProducerLen)}
	case !printable(e.Producer):
		return &FieldError{"producer", "must be printable ASCII"}
	case e.Seq != 0 && e.Producer == "":
		return &FieldError{"producer", "must be set when seq is set"}
	}
	return nil
}

// validAirport returns why code is not an IATA-like airport code, or "".
func validAirport(code string) string {
	if len(code) < 3 || len(code) > 4 {
		return fmt.Sprintf("%q is not a 3- or 4-character airport code", code)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return fmt.Sprintf("%q has a character other than A-Z or 0-9", code)
		}
	}
	return ""
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Partition returns the partition, in [0, n), that holds the events of origin:
// FNV-1a (32-bit) of the origin code, modulo n. Outside producers compute the
// same to publish into the right stream queue.
func Partition(origin string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(origin))
	return int(h.Sum32() % uint32(n))
}
