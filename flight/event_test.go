package flight

import (
	"errors"
	"testing"
	"time"
)

func validEvent() Event {
	return Event{
		ID: "f3m-0000001", Time: time.Date(2001, 1, 1, 0, 1, 0, 0, time.UTC).UnixMicro(),
		Origin: "ATL", Destination: "LAX", Delay: 12, Distance: 1946, Producer: "replay", Seq: 1,
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Event)
		field string
	}{
		{"valid", func(*Event) {}, ""},
		{"empty id", func(e *Event) { e.ID = "" }, "id"},
		{"long id", func(e *Event) { e.ID = string(make([]byte, 65)) }, "id"},
		{"control char in id", func(e *Event) { e.ID = "a\nb" }, "id"},
		{"time before 1970", func(e *Event) { e.Time = -1 }, "time"},
		{"time after 2100", func(e *Event) { e.Time = 5e15 }, "time"},
		{"short origin", func(e *Event) { e.Origin = "AT" }, "origin"},
		{"lowercase origin", func(e *Event) { e.Origin = "atl" }, "origin"},
		{"four-char destination ok", func(e *Event) { e.Destination = "KATL" }, ""},
		{"long destination", func(e *Event) { e.Destination = "KATLX" }, "destination"},
		{"delay too low", func(e *Event) { e.Delay = MinDelay - 1 }, "delay"},
		{"delay too high", func(e *Event) { e.Delay = MaxDelay + 1 }, "delay"},
		{"negative delay ok", func(e *Event) { e.Delay = -1116 }, ""},
		{"zero distance", func(e *Event) { e.Distance = 0 }, "distance"},
		{"huge distance", func(e *Event) { e.Distance = MaxDistance + 1 }, "distance"},
		{"seq without producer", func(e *Event) { e.Producer = "" }, "producer"},
		{"no seq no producer ok", func(e *Event) { e.Producer, e.Seq = "", 0 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.edit(&e)
			err := e.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError on %q", err, tt.field)
			}
		})
	}
}

func TestPartitionIsStableAndInRange(t *testing.T) {
	// Fixed values: outside producers rely on this function never changing.
	want := map[string]int{"ATL": Partition("ATL", 8), "ORD": Partition("ORD", 8)}
	for code, p := range want {
		if p < 0 || p >= 8 {
			t.Fatalf("Partition(%q, 8) = %d, out of range", code, p)
		}
	}
	// FNV-1a 32 of "ATL" is 0x559c294c (computed independently in Python); mod 8 = 4.
	if got := Partition("ATL", 8); got != 0x559c294c%8 {
		t.Fatalf("Partition(ATL, 8) = %d, want %d", got, 0x559c294c%8)
	}
}

func TestHour(t *testing.T) {
	ts := time.Date(2001, 3, 4, 17, 59, 59, 999999000, time.UTC)
	if got, want := Hour(ts.UnixMicro()), time.Date(2001, 3, 4, 17, 0, 0, 0, time.UTC).Unix(); got != want {
		t.Fatalf("Hour = %d, want %d", got, want)
	}
}
