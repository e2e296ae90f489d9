package query

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-dev/tributary/internal/httpx"
)

// BadRequest is an error the client can fix: a 400.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

func badf(format string, args ...any) error { return &BadRequest{fmt.Sprintf(format, args...)} }

// Span is a range of whole hours [From, To), in Unix seconds; a zero side is open.
type Span struct {
	From, To int64
}

// ParseSpan reads from and to: RFC 3339, on whole hours, from inclusive, to
// exclusive, from before to. Either may be absent (all data on that side).
func ParseSpan(q url.Values) (Span, error) {
	var s Span
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &s.From}, {"to", &s.To}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return s, badf("parameter %s: %s is not an RFC 3339 time such as 2001-01-01T00:00:00Z", f.name, httpx.Quote(v))
		}
		if t.Unix()%3600 != 0 || t.Nanosecond() != 0 {
			return s, badf("parameter %s: %s is not on a whole hour", f.name, httpx.Quote(v))
		}
		*f.dst = t.Unix()
	}
	if s.From != 0 && s.To != 0 && s.From >= s.To {
		return s, badf("parameter from (%s) must be before to (%s)", httpx.Quote(q.Get("from")), httpx.Quote(q.Get("to")))
	}
	return s, nil
}

// ParseAirport checks an IATA code from the path.
func ParseAirport(name, code string) (string, error) {
	c := strings.ToUpper(code)
	if len(c) < 3 || len(c) > 4 {
		return "", badf("%s: %s is not a 3- or 4-character IATA code", name, httpx.Quote(code))
	}
	for i := 0; i < len(c); i++ {
		if (c[i] < 'A' || c[i] > 'Z') && (c[i] < '0' || c[i] > '9') {
			return "", badf("%s: %s has a character other than A-Z or 0-9", name, httpx.Quote(code))
		}
	}
	return c, nil
}

// Orders are the orders of the top-airports list.
var Orders = []string{"flights", "delay_p95", "delayed_share"}

// ParseTop reads the order (by, default flights) and length (limit, 1 to
// 1000, default 10) of a top list.
func ParseTop(q url.Values) (by string, limit int, err error) {
	by = q.Get("by")
	if by == "" {
		by = "flights"
	}
	ok := false
	for _, o := range Orders {
		ok = ok || by == o
	}
	if !ok {
		return "", 0, badf("parameter by: %s is not one of %s", httpx.Quote(by), strings.Join(Orders, ", "))
	}
	limit = 10
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > 1000 {
			return "", 0, badf("parameter limit: %s is not a whole number from 1 to 1000", httpx.Quote(v))
		}
	}
	return by, limit, nil
}
