package query

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxErrorBytes bounds an error message: the input is quoted by a short
// prefix only, whatever its length.
const maxErrorBytes = 400

// checkBad fails unless err is nil or a short bad request.
func checkBad(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var br *BadRequest
	if !errors.As(err, &br) {
		t.Fatalf("%s: %v is not a bad request", what, err)
	}
	if len(br.Msg) > maxErrorBytes || !utf8.ValidString(br.Msg) {
		t.Fatalf("%s: error of %d bytes (valid UTF-8: %v): %.200s", what, len(br.Msg), utf8.ValidString(br.Msg), br.Msg)
	}
}

// FuzzParseSpan: any query string either fails with a short 400 or gives a
// span on whole hours with from before to.
func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"", "from=2001-01-01T00:00:00Z", "from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z",
		"to=2001-01-01T01:00:00%2B01:00", "from=2001-01-01T00:30:00Z", "from=0001-01-01T00:00:00Z&to=9999-12-31T23:00:00Z",
		"from=" + strings.Repeat("9", 300), "from=%ff%fe&to=x", "from=2001-01-02T00:00:00Z&to=2001-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, err := ParseSpan(q)
		checkBad(t, "parseSpan", err)
		if err != nil {
			return
		}
		if s.From%3600 != 0 || s.To%3600 != 0 {
			t.Fatalf("ParseSpan(%q) = %+v: not on whole hours", raw, s)
		}
		if s.From != 0 && s.To != 0 && s.From >= s.To {
			t.Fatalf("ParseSpan(%q) = %+v: from not before to", raw, s)
		}
	})
}

// FuzzParseAirport: a code is 3 or 4 of A-Z and 0-9 after upper-casing, or
// a short 400.
func FuzzParseAirport(f *testing.F) {
	for _, s := range []string{"ATL", "atl", "KATL", "00M", "A", "ATLAS", "A-L", "ı", strings.Repeat("é", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		c, err := ParseAirport("airport", code)
		checkBad(t, "parseAirport", err)
		if err != nil {
			return
		}
		if len(c) < 3 || len(c) > 4 {
			t.Fatalf("ParseAirport(%q) = %q", code, c)
		}
		for i := 0; i < len(c); i++ {
			if (c[i] < 'A' || c[i] > 'Z') && (c[i] < '0' || c[i] > '9') {
				t.Fatalf("ParseAirport(%q) = %q", code, c)
			}
		}
	})
}

// FuzzParseTop: an order of the list and a limit in [1, 1000], or a short 400.
func FuzzParseTop(f *testing.F) {
	for _, s := range []string{"", "by=delay_p95&limit=5", "by=delayed_share", "by=name", "limit=0", "limit=x",
		"limit=1001", "limit=-1", "limit=99999999999999999999", "by=" + strings.Repeat("x", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		by, limit, err := ParseTop(q)
		checkBad(t, "parseTop", err)
		if err != nil {
			return
		}
		known := false
		for _, o := range Orders {
			known = known || by == o
		}
		if !known || limit < 1 || limit > 1000 {
			t.Fatalf("ParseTop(%q) = %q, %d", raw, by, limit)
		}
	})
}
