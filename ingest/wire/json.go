package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tributary-dev/tributary/flight"
)

// jsonEvent is the JSON form of an event. Every field is a pointer so that a
// missing field is told apart from a zero value.
type jsonEvent struct {
	ID          *string  `json:"id"`
	Time        *string  `json:"time"`
	Origin      *string  `json:"origin"`
	Destination *string  `json:"destination"`
	Delay       *float64 `json:"delay"`
	Distance    *float64 `json:"distance"`
	Producer    *string  `json:"producer,omitempty"`
	Seq         *float64 `json:"seq,omitempty"`
}

// EncodeJSON returns the JSON form of one event:
//
//	{"id":"f3m-0000001","time":"2001-01-01T00:01:00Z","origin":"ATL","destination":"LAX",
//	 "delay":12,"distance":1946,"producer":"replay","seq":1}
//
// producer and seq are optional. It writes the bytes itself rather than
// through encoding/json: the replayer calls it once per event.
func EncodeJSON(e *flight.Event) ([]byte, error) {
	return AppendJSON(make([]byte, 0, 160), e), nil
}

// AppendJSON appends the JSON form of e to dst.
func AppendJSON(dst []byte, e *flight.Event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"time":"`...)
	dst = e.EventTime().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","origin":`...)
	dst = appendString(dst, e.Origin)
	dst = append(dst, `,"destination":`...)
	dst = appendString(dst, e.Destination)
	dst = append(dst, `,"delay":`...)
	dst = strconv.AppendInt(dst, int64(e.Delay), 10)
	dst = append(dst, `,"distance":`...)
	dst = strconv.AppendInt(dst, int64(e.Distance), 10)
	if e.Producer != "" {
		dst = append(dst, `,"producer":`...)
		dst = appendString(dst, e.Producer)
	}
	if e.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, e.Seq, 10)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string, escaping what JSON requires.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// maxJSONSeq is the largest seq that a JSON number carries exactly.
const maxJSONSeq = 1 << 53

// DecodeJSON decodes and validates one JSON event. Unknown fields are refused,
// so that a typo ("orgin") is an error rather than a missing value.
func DecodeJSON(body []byte) (flight.Event, error) {
	var j jsonEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return flight.Event{}, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return flight.Event{}, malformed(-1, "", "trailing data after the JSON object")
	}
	var e flight.Event
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"id", j.ID != nil}, {"time", j.Time != nil}, {"origin", j.Origin != nil},
		{"destination", j.Destination != nil}, {"delay", j.Delay != nil}, {"distance", j.Distance != nil},
	} {
		if !f.ok {
			return e, malformed(-1, f.name, "is missing")
		}
	}
	t, err := time.Parse(time.RFC3339Nano, *j.Time)
	if err != nil {
		return e, malformed(-1, "time", "%q is not an RFC 3339 time", *j.Time)
	}
	delay, err := wholeNumber("delay", *j.Delay, flight.MinDelay, flight.MaxDelay)
	if err != nil {
		return e, err
	}
	dist, err := wholeNumber("distance", *j.Distance, 1, flight.MaxDistance)
	if err != nil {
		return e, err
	}
	e = flight.Event{ID: *j.ID, Time: t.UnixMicro(), Origin: *j.Origin, Destination: *j.Destination, Delay: int32(delay), Distance: int32(dist)}
	if j.Producer != nil {
		e.Producer = *j.Producer
	}
	if j.Seq != nil {
		s, err := wholeNumber("seq", *j.Seq, 1, maxJSONSeq)
		if err != nil {
			return flight.Event{}, err
		}
		e.Seq = uint64(s)
	}
	if err := e.Validate(); err != nil {
		return flight.Event{}, invalid(-1, err)
	}
	return e, nil
}

func wholeNumber(field string, v float64, lo, hi int64) (int64, error) {
	if v != float64(int64(v)) {
		return 0, malformed(-1, field, "%v is not a whole number", v)
	}
	if int64(v) < lo || int64(v) > hi {
		return 0, malformed(-1, field, "%v is outside %d..%d", v, lo, hi)
	}
	return int64(v), nil
}

func jsonError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return malformed(-1, ute.Field, "has JSON type %s, want %s", ute.Value, jsonType(ute.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed(-1, "", "invalid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.EOF) {
		return malformed(-1, "", "empty body")
	}
	return malformed(-1, "", "invalid JSON event: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "float64":
		return "number"
	case "ptr", "string":
		return "string"
	}
	return fmt.Sprint(kind)
}
