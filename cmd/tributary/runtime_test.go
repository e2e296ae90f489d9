package main

import (
	"testing"
)

// TestParseMemoryLimit: sizes with their units, the roles' defaults, off,
// and malformed values refused with an error.
func TestParseMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		in, role string
		want     int64
		bad      bool
	}{
		{in: "auto", role: "serve", want: 440 << 20},
		{in: "auto", role: "worker", want: 400 << 20},
		{in: "auto", role: "archive", want: 180 << 20},
		{in: "auto", role: "speed", want: 180 << 20},
		{in: "auto", role: "replay", want: 0},
		{in: "off", role: "serve", want: 0},
		{in: "0", role: "serve", want: 0},
		{in: "400MiB", role: "serve", want: 400 << 20},
		{in: "1GiB", role: "serve", want: 1 << 30},
		{in: "512mb", role: "serve", want: 512 << 20},
		{in: "1048576", role: "serve", want: 1 << 20},
		{in: "12XB", bad: true},
		{in: "-5MiB", bad: true},
		{in: "lots", bad: true},
	} {
		got, err := parseMemoryLimit(tc.in, tc.role)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q for %s: %d, %v, want %d", tc.in, tc.role, got, err, tc.want)
		}
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	if got, err := parseMemoryLimit("auto", "serve"); err != nil || got != 0 {
		t.Errorf("auto with GOMEMLIMIT set: %d, %v, want 0 (the runtime's)", got, err)
	}
}
