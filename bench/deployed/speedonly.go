package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// speedOnlyQueries are the worst queries serve admits when the speed layer
// holds every event and no batch view is published yet (every hour is a
// speed hour, read from Redis): each endpoint at its limit. The top lists
// span 96 hours, about the most the default --max-speed-buckets (24,000) admits
// over the data set's 229 airports; one airport and one route span the
// whole half year (--max-speed-hours is 4,560); the hourly series its 768
// hours. %s is the request's from, a distinct hour each time: serve's
// answer cache keys answers by range, so every request is computed.
var speedOnlyQueries = []struct {
	name, path string
	start      time.Time
	hours      int // 0: to the end of the data
}{
	{"top_flights_96h", "/v1/airports?by=flights&limit=10&from=%s&to=%s", time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC), 96},
	{"top_delay_p95_96h", "/v1/airports?by=delay_p95&limit=10&from=%s&to=%s", time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC), 96},
	{"airport_atl_half_year", "/v1/airports/ATL?from=%s", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), 0},
	{"route_atl_ord_half_year", "/v1/routes/ATL/ORD?from=%s", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), 0},
	{"series_atl_768h", "/v1/airports/ATL/hours?from=%s&to=%s", time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC), 768},
}

// speedOnly times each of speedOnlyQueries n times, one request at a time,
// while serve has no batch view: the cost of the speed part's read at the
// limits (issue 12: every admitted query within ~50 ms). Each request
// starts an hour later than the previous one (a distinct range: computed,
// not memoized).
func (b *bench) speedOnly(ctx context.Context, n int) (map[string]any, error) {
	st, err := b.status(ctx)
	if err != nil {
		return nil, err
	}
	if st.BatchLayer.Current != nil {
		return nil, fmt.Errorf("a batch view is published: the speed part is not every hour")
	}
	out := map[string]any{"requests_per_query": n}
	client := &http.Client{Timeout: time.Minute}
	for _, q := range speedOnlyQueries {
		var lat []float64
		for i := range n {
			from := q.start.Add(time.Duration(i) * time.Hour)
			path := fmt.Sprintf(q.path, from.Format(time.RFC3339), from.Add(time.Duration(q.hours)*time.Hour).Format(time.RFC3339))
			if q.hours == 0 {
				path = fmt.Sprintf(q.path, from.Format(time.RFC3339))
			}
			t0 := time.Now()
			if _, err := getBody(ctx, client, b.serve+path); err != nil {
				return nil, fmt.Errorf("%s: %w", q.name, err)
			}
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
		slices.Sort(lat)
		out[q.name] = map[string]any{"p50_ms": round(rank(lat, 0.5), 2), "p99_ms": round(rank(lat, 0.99), 2),
			"max_ms": round(lat[len(lat)-1], 2)}
		b.logf("speed: %s, speed layer only, uncached: p50 %.1f ms, max %.1f ms", q.name, rank(lat, 0.5), lat[len(lat)-1])
	}
	return out, nil
}
