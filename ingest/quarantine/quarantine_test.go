package quarantine_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/ingest/quarantine"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 123, time.UTC)
	for _, body := range [][]byte{nil, []byte(`{"id": "broken`), {0xff, 0x00, 0xfe, 'A'}} {
		e := quarantine.Entry{Partition: 3, Offset: 42, Reason: "bad", Body: body, At: at}
		got, err := quarantine.Decode(e.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if got.Partition != 3 || got.Offset != 42 || got.Reason != "bad" || !bytes.Equal(got.Body, body) || !got.At.Equal(at) {
			t.Fatalf("round trip of %q: %+v", body, got)
		}
	}
	if _, err := quarantine.Decode(`{"body": "not base64!"}`); err == nil {
		t.Fatal("a body that is not base64 was accepted")
	}
	if !strings.Contains(func() string { e := quarantine.Entry{Body: []byte("hi")}; return e.Encode() }(), `"body":"aGk="`) {
		t.Fatal("body is not base64 in JSON")
	}
}

func TestCut(t *testing.T) {
	b := []byte("abcdef")
	for _, tc := range []struct {
		max  int
		want string
	}{{0, ""}, {3, "abc"}, {6, "abcdef"}, {100, "abcdef"}, {-1, ""}} {
		got := quarantine.Cut(b, tc.max)
		if string(got) != tc.want {
			t.Fatalf("Cut(%d) = %q, want %q", tc.max, got, tc.want)
		}
		if len(got) > 0 && &got[0] == &b[0] {
			t.Fatal("Cut shares the delivery's buffer")
		}
	}
}
