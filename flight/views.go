package flight

import (
	"math"
	"time"
)

// DelayedMinutes is the delay from which a flight counts as delayed.
const DelayedMinutes = 15

// BucketWidth is the time granularity of every view.
const BucketWidth = time.Hour

// Hour returns the start of the hour bucket of an event time in µs, as Unix seconds.
func Hour(timeMicros int64) int64 {
	sec := timeMicros / 1e6
	if timeMicros < 0 && timeMicros%1e6 != 0 {
		sec--
	}
	return sec - mod(sec, 3600)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Dimension is what a view groups flights by, besides the hour.
type Dimension string

const (
	// ByAirport groups flights by origin airport.
	ByAirport Dimension = "airport"
	// ByRoute groups flights by (origin, destination).
	ByRoute Dimension = "route"
)

// View is one view definition. Both layers compute every view of Views();
// adding a view means adding it there.
type View struct {
	// Name is used in storage keys and metrics.
	Name string
	Dim  Dimension
	// DistinctDestinations says whether the view counts distinct destinations.
	DistinctDestinations bool
}

// Views returns every view, in a fixed order.
func Views() []View {
	return []View{
		{Name: "airport_hour", Dim: ByAirport, DistinctDestinations: true},
		{Name: "route_hour", Dim: ByRoute},
	}
}

// Key returns the group an event falls into for view v (without the hour).
func (v View) Key(e *Event) string {
	if v.Dim == ByRoute {
		return e.Origin + "-" + e.Destination
	}
	return e.Origin
}

// AppendKey appends v.Key(e) to buf: the same group, without a new string.
func (v View) AppendKey(buf []byte, e *Event) []byte {
	buf = append(buf, e.Origin...)
	if v.Dim == ByRoute {
		buf = append(buf, '-')
		buf = append(buf, e.Destination...)
	}
	return buf
}

// BucketKey identifies one bucket of one view: a group and an hour.
type BucketKey struct {
	Group string
	Hour  int64 // Unix seconds of the hour's start
}

// Stats are the exactly mergeable statistics that every view keeps per bucket.
// Both layers keep them exactly; only percentiles and distinct counts differ
// (a sketch in the speed layer, exact in the batch layer).
type Stats struct {
	Count   int64 `json:"count"`
	Sum     int64 `json:"sum"`
	Delayed int64 `json:"delayed"`
	Min     int32 `json:"min"`
	Max     int32 `json:"max"`
}

// Add accounts for one flight's delay.
func (s *Stats) Add(delay int32) {
	if s.Count == 0 || delay < s.Min {
		s.Min = delay
	}
	if s.Count == 0 || delay > s.Max {
		s.Max = delay
	}
	s.Count++
	s.Sum += int64(delay)
	if delay >= DelayedMinutes {
		s.Delayed++
	}
}

// Merge adds o into s.
func (s *Stats) Merge(o Stats) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	if s.Count == 0 || o.Max > s.Max {
		s.Max = o.Max
	}
	s.Count += o.Count
	s.Sum += o.Sum
	s.Delayed += o.Delayed
}

// Mean is the mean delay, NaN when there are no flights.
func (s Stats) Mean() float64 {
	if s.Count == 0 {
		return math.NaN()
	}
	return float64(s.Sum) / float64(s.Count)
}

// DelayedShare is the share of delayed flights, NaN when there are none.
func (s Stats) DelayedShare() float64 {
	if s.Count == 0 {
		return math.NaN()
	}
	return float64(s.Delayed) / float64(s.Count)
}

// Rank returns the nearest rank of quantile q among n values: the smallest
// rank r (1-based) such that r >= ceil(q*n). q must be in [0, 1].
func Rank(q float64, n int64) int64 {
	r := int64(math.Ceil(q * float64(n)))
	if r < 1 {
		r = 1
	}
	if r > n {
		r = n
	}
	return r
}
