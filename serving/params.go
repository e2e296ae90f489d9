package serving

import (
	"fmt"
	"net/url"
	"time"

	"github.com/tributary-dev/tributary/serving/query"
)

// badRequest is an error of the server's own the client can fix (a range
// too wide to read): a 400, like a query.BadRequest.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// notFound becomes a 404.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// span is a range of whole hours [From, To), in Unix seconds; a zero side is open.
type span struct {
	From, To int64
}

// parseSpan reads from and to (query.ParseSpan).
func parseSpan(q url.Values) (span, error) {
	s, err := query.ParseSpan(q)
	return span{s.From, s.To}, err
}

func rfc3339(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
