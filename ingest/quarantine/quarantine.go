package quarantine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tributary-dev/tributary/ingest/wire"
)

// Entry is one quarantined message.
type Entry struct {
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Reason    string `json:"reason"`
	// Body is the message body (base64 in JSON), cut at the configured bound.
	Body []byte    `json:"body"`
	At   time.Time `json:"at"`
}

// Cut returns a copy of at most maxBody bytes of body: the delivery's buffer
// is not kept, and a huge body does not fill Redis.
func Cut(body []byte, maxBody int) []byte {
	return append([]byte(nil), body[:min(len(body), max(maxBody, 0))]...)
}

// Encode returns the entry as stored in a quarantine list.
func (e *Entry) Encode() string {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: every field has a JSON encoding
		panic(fmt.Sprintf("quarantine: %v", err))
	}
	return string(b)
}

// Decode parses one quarantine list entry.
func Decode(s string) (Entry, error) {
	var e Entry
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return e, fmt.Errorf("quarantine entry: %w", err)
	}
	return e, nil
}

// arrowContinuation starts every Arrow IPC stream message.
var arrowContinuation = []byte{0xff, 0xff, 0xff, 0xff}

// ContentType guesses the content type of a quarantined body (the entries do
// not keep the message's): an Arrow stream starts with the IPC continuation
// marker, anything else is taken as JSON.
func ContentType(body []byte) string {
	if bytes.HasPrefix(body, arrowContinuation) {
		return wire.ContentTypeArrow
	}
	return wire.ContentTypeJSON
}

// Preview returns at most n characters of body on one line, for listings:
// JSON as compact text, anything else as a quoted prefix; "…" marks a cut.
func Preview(body []byte, n int) string {
	if ContentType(body) == wire.ContentTypeArrow {
		return fmt.Sprintf("(arrow stream, %d bytes)", len(body))
	}
	var s string
	if json.Valid(body) {
		var b bytes.Buffer
		_ = json.Compact(&b, body)
		s = b.String()
	} else {
		s = strconv.QuoteToGraphic(string(body))
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Render writes body readably: JSON indented, an Arrow stream as one JSON
// event per row; a body that does not decode is shown quoted, after the
// decoder's reason.
func Render(w io.Writer, body []byte) error {
	ct := ContentType(body)
	if ct == wire.ContentTypeArrow {
		evs, err := wire.DecodeArrow(nil, body)
		if err != nil {
			_, werr := fmt.Fprintf(w, "arrow stream of %d bytes that does not decode: %v\n%s\n", len(body), err, strconv.QuoteToGraphic(string(body)))
			return werr
		}
		for i := range evs {
			if _, err := fmt.Fprintf(w, "%d\t%s\n", i, wire.AppendJSON(nil, &evs[i])); err != nil {
				return err
			}
		}
		return nil
	}
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		_, werr := fmt.Fprintf(w, "not JSON (%v):\n%s\n", err, strconv.QuoteToGraphic(string(body)))
		return werr
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
