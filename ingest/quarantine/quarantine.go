package quarantine

import (
	"encoding/json"
	"fmt"
	"time"
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
