package query

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseSpan(t *testing.T) {
	tests := []struct {
		query    string
		from, to int64
		bad      string // a word the error must contain, "" for success
	}{
		{"", 0, 0, ""},
		{"from=2001-01-01T00:00:00Z", 978307200, 0, ""},
		{"from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z", 978307200, 980985600, ""},
		{"to=2001-01-01T01:00:00%2B01:00", 0, 978307200, ""},
		{"from=2001-01-01", 0, 0, "RFC 3339"},
		{"from=2001-01-01T00:30:00Z", 0, 0, "whole hour"},
		{"from=2001-01-01T00:00:01Z", 0, 0, "whole hour"},
		{"from=2001-01-02T00:00:00Z&to=2001-01-01T00:00:00Z", 0, 0, "before"},
		{"from=2001-01-01T00:00:00Z&to=2001-01-01T00:00:00Z", 0, 0, "before"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			s, err := ParseSpan(q)
			if tt.bad != "" {
				var br *BadRequest
				if !errors.As(err, &br) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("ParseSpan(%q) = %v, want a bad request saying %q", tt.query, err, tt.bad)
				}
				return
			}
			if err != nil || s.From != tt.from || s.To != tt.to {
				t.Fatalf("ParseSpan(%q) = %+v, %v; want [%d, %d)", tt.query, s, err, tt.from, tt.to)
			}
		})
	}
}

func TestParseAirportAndTop(t *testing.T) {
	for in, want := range map[string]string{"ATL": "ATL", "atl": "ATL", "KATL": "KATL", "00M": "00M", "A": "", "ATLAS": "", "A-L": ""} {
		got, err := ParseAirport("airport", in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("ParseAirport(%q) = %q, %v", in, got, err)
		}
	}
	for q, ok := range map[string]bool{"": true, "by=delay_p95&limit=5": true, "by=delayed_share": true, "by=name": false, "limit=0": false, "limit=x": false, "limit=1001": false} {
		v, _ := url.ParseQuery(q)
		_, _, err := ParseTop(v)
		if (err == nil) != ok {
			t.Errorf("ParseTop(%q) = %v", q, err)
		}
	}
}
