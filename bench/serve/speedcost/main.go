package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "serve's base URL")
	ref := flag.String("ref", "", "a reference serve: every answer must be byte-identical to its (empty: no check)")
	n := flag.Int("n", 7, "requests per query")
	start := flag.String("from", "2001-03-01T00:00:00Z", "the start of every range (within the speed layer)")
	airports := flag.Int("airports", 229, "airports with flights in the ranges (for the buckets column)")
	flag.Parse()
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fail(err)
	}
	span := func(h int) string {
		return "from=" + t0.Format(time.RFC3339) + "&to=" + t0.Add(time.Duration(h)*time.Hour).Format(time.RFC3339)
	}
	type query struct {
		name    string
		path    string
		buckets int
	}
	var qs []query
	for _, h := range []int{24, 48, 96, 168, 216} {
		qs = append(qs, query{fmt.Sprintf("top_flights_%dh", h), "/v1/airports?by=flights&limit=10&" + span(h), h * *airports})
		qs = append(qs, query{fmt.Sprintf("top_delay_p95_%dh", h), "/v1/airports?by=delay_p95&limit=10&" + span(h), h * *airports})
	}
	qs = append(qs,
		query{"airport_atl_all", "/v1/airports/ATL", 4369},
		query{"airport_atl_1000h", "/v1/airports/ATL?" + span(1000), 1000},
		query{"route_atl_ord_all", "/v1/routes/ATL/ORD", 4369},
		query{"series_atl_768h", "/v1/airports/ATL/hours?" + span(768), 768},
	)
	client := &http.Client{Timeout: time.Minute}
	for _, q := range qs {
		var lat []float64
		status := 0
		var body []byte
		for range *n {
			t := time.Now()
			b, st, err := get(client, *base+q.path)
			if err != nil {
				fail(err)
			}
			lat = append(lat, float64(time.Since(t).Microseconds())/1000)
			status, body = st, b
		}
		if *ref != "" && status == http.StatusOK {
			want, _, err := get(client, *ref+q.path)
			if err != nil {
				fail(err)
			}
			if !bytes.Equal(body, want) {
				fail(fmt.Errorf("%s: answers differ:\n%s\n%s", q.name, body, want))
			}
		}
		slices.Sort(lat)
		line, _ := json.Marshal(map[string]any{"query": q.name, "buckets": q.buckets, "status": status,
			"median_ms": lat[len(lat)/2], "max_ms": lat[len(lat)-1]})
		fmt.Println(string(line))
	}
}

func get(c *http.Client, url string) ([]byte, int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "speedcost:", err)
	os.Exit(1)
}
