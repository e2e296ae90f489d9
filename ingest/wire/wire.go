package wire

import (
	"errors"
	"fmt"
	"mime"

	"github.com/tributary-dev/tributary/flight"
)

// Content types of the two encodings.
const (
	ContentTypeJSON  = "application/json"
	ContentTypeArrow = "application/vnd.apache.arrow.stream"
)

// MaxMessageBytes bounds a message body; larger ones are refused before decoding.
const MaxMessageBytes = 16 << 20

// ErrMalformed is wrapped by every decoding error, so callers can tell bad
// input (quarantine it) from their own failures with errors.Is.
var ErrMalformed = errors.New("malformed message")

// DecodeError says why a message was refused: which event (row) and which field.
type DecodeError struct {
	// Row is the index of the bad event in an Arrow batch, -1 when the message
	// as a whole is bad.
	Row   int
	Field string
	// Reason is a sentence that a person can act on.
	Reason string
}

func (e *DecodeError) Error() string {
	where := ""
	if e.Row >= 0 {
		where = fmt.Sprintf("row %d: ", e.Row)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %sfield %q: %s", ErrMalformed, where, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %s%s", ErrMalformed, where, e.Reason)
}

func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(row int, field, format string, args ...any) error {
	return &DecodeError{Row: row, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// invalid turns a validation failure of event row into a DecodeError.
func invalid(row int, err error) error {
	var fe *flight.FieldError
	if errors.As(err, &fe) {
		return &DecodeError{Row: row, Field: fe.Field, Reason: fe.Reason}
	}
	return &DecodeError{Row: row, Reason: err.Error()}
}

// Decode appends the events of one message body to dst. contentType selects the
// decoder (parameters such as charset are ignored). On error dst is returned
// unchanged: a message is taken whole or not at all.
func Decode(dst []flight.Event, contentType string, body []byte) ([]flight.Event, error) {
	if len(body) > MaxMessageBytes {
		return dst, malformed(-1, "", "body is %d bytes, more than the %d allowed", len(body), MaxMessageBytes)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return dst, malformed(-1, "", "content type %q: %v", contentType, err)
	}
	switch mt {
	case ContentTypeJSON:
		e, err := DecodeJSON(body)
		if err != nil {
			return dst, err
		}
		return append(dst, e), nil
	case ContentTypeArrow:
		return DecodeArrow(dst, body)
	default:
		return dst, malformed(-1, "", "content type %q is neither %s nor %s", contentType, ContentTypeJSON, ContentTypeArrow)
	}
}
