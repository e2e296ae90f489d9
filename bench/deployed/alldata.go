package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// allDataQueries are the queries over all the data (no from/to) timed by
// allData: the two top lists of issue 12 and one airport and one route.
var allDataQueries = []struct{ name, path, list string }{
	{"top_delay_p95", "/v1/airports?by=delay_p95&limit=10", "airports"},
	{"top_flights", "/v1/airports?by=flights&limit=10", "airports"},
	{"airport_atl", "/v1/airports/ATL", ""},
	{"route_atl_ord", "/v1/routes/ATL/ORD", ""},
}

// allData times each query over all the data as serve computes it, never
// from its answer cache: first the query itself, the first time serve is
// asked it for this batch version (nothing memoized), then n more with a
// different from= each, a whole hour before the data start (1990 on). The
// data's own span closes every range before its layers are read, so each
// of these reads and merges exactly what the query over all data does; but
// the answer cache keys answers by the range asked, so none of them is
// answered from it. The bench checks that each answer's figures are those
// of the query without a range. Requests go one at a time (no single-flight
// sharing, no queueing); latency is the bench's, HTTP over loopback
// included. serve's RSS is read after them.
func (b *bench) allData(ctx context.Context, n int) (map[string]any, error) {
	out := map[string]any{"requests_per_query": n + 1}
	client := &http.Client{Timeout: time.Minute}
	base := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	for qi, q := range allDataQueries {
		var lat []float64
		var ref []byte
		for i := 0; i <= n; i++ {
			path := q.path
			if i > 0 {
				// Distinct from every earlier request, of this query or another.
				from := base.Add(time.Duration(qi*(n+1)+i) * time.Hour).Format(time.RFC3339)
				path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "from=" + from
			}
			t0 := time.Now()
			body, err := getBody(ctx, client, b.serve+path)
			ms := float64(time.Since(t0).Microseconds()) / 1000
			if err != nil {
				return nil, fmt.Errorf("%s: %w", q.name, err)
			}
			fig, err := figures(body, q.list)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", q.name, err)
			}
			if i == 0 {
				ref = fig
				out[q.name+"_first_ms"] = round(ms, 2)
			} else if !bytes.Equal(fig, ref) {
				return nil, fmt.Errorf("%s: the answer with from= differs from the answer over all data:\n%s\n%s", q.name, fig, ref)
			}
			lat = append(lat, ms)
		}
		slices.Sort(lat)
		out[q.name] = map[string]any{"p50_ms": round(rank(lat, 0.5), 2), "p99_ms": round(rank(lat, 0.99), 2),
			"max_ms": round(lat[len(lat)-1], 2), "first_ms": out[q.name+"_first_ms"], "requests": len(lat)}
		delete(out, q.name+"_first_ms")
		b.logf("serve: %s over all data, uncached: first %.1f ms, p50 %.1f ms, max %.1f ms", q.name,
			out[q.name].(map[string]any)["first_ms"], rank(lat, 0.5), lat[len(lat)-1])
	}
	if p := b.ps.byName("serve"); p != nil {
		if rss, hwm, ok := vmRSS(p.cmd.Process.Pid); ok {
			out["serve_rss_mb"], out["serve_hwm_mb"] = round(rss, 1), round(hwm, 1)
		}
	}
	return out, nil
}

// rank is the nearest-rank quantile q of sorted xs.
func rank(xs []float64, q float64) float64 {
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// figures is an answer without its range (from, to): what must not change
// with a from= before the data. list names the array of a top list.
func figures(body []byte, list string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("not JSON: %.200s", body)
	}
	if list != "" {
		if len(m[list]) < 3 {
			return nil, fmt.Errorf("no %s in %.200s", list, body)
		}
		return m[list], nil
	}
	delete(m, "from")
	delete(m, "to")
	return json.Marshal(m)
}

// getBody is a GET's body, which must be a 200.
func getBody(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, b)
	}
	return b, nil
}
