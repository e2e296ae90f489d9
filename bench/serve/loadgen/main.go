package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	rate := flag.Int("rate", 0, "requests per second, open loop (0: closed loop)")
	conns := flag.Int("c", 32, "connections (closed loop) or concurrent senders (open loop)")
	dur := flag.Duration("d", 10*time.Second, "duration")
	airports := flag.String("airports", "ATL,ORD,DFW,LAX,PHX,STL,DTW,MSP,IAH,DEN,LAS,EWR,SFO,CLT,BOS,SEA,PIT,MCO,LGA,BWI", "airports queried")
	mix := flag.String("mix", "months", "ranges queried: months (the six calendar months, which the answer cache holds) or hours (random hour-aligned ranges over January-June, which defeat it)")
	flag.Parse()

	codes := strings.Split(*airports, ",")
	var next func(r *rand.Rand) string
	switch *mix {
	case "months":
		next = func(r *rand.Rand) string {
			m := months[r.IntN(len(months))]
			return fmt.Sprintf("%s/v1/airports/%s?from=%s-01T00:00:00Z&to=%s-01T00:00:00Z", *base, codes[r.IntN(len(codes))], m, monthEnd[m])
		}
	case "hours":
		next = func(r *rand.Rand) string {
			from, to := randomHours(r)
			return fmt.Sprintf("%s/v1/airports/%s?from=%s&to=%s", *base, codes[r.IntN(len(codes))],
				from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
	default:
		fmt.Fprintf(os.Stderr, "loadgen: -mix %q: want months or hours\n", *mix)
		os.Exit(2)
	}
	rec := &recorder{client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns * 2, MaxConnsPerHost: *conns * 2}, Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()

	start := time.Now()
	if *rate > 0 {
		openLoop(ctx, rec, next, *rate, *conns, start)
	} else {
		closedLoop(ctx, rec, next, *conns)
	}
	_ = json.NewEncoder(os.Stdout).Encode(rec.report(*rate, *conns, *mix, time.Since(start)))
	if rec.errs.Load() > 0 {
		os.Exit(1)
	}
}

var (
	months   = []string{"2001-01", "2001-02", "2001-03", "2001-04", "2001-05", "2001-06"}
	monthEnd = map[string]string{"2001-01": "2001-02", "2001-02": "2001-03", "2001-03": "2001-04", "2001-04": "2001-05", "2001-05": "2001-06", "2001-06": "2001-07"}
)

// randomHours is a random range [from, to) of whole hours within
// 2001-01-01..2001-07-01, at least an hour long: about 19 million distinct
// ranges per airport, so that an answer cache almost never hits.
func randomHours(r *rand.Rand) (time.Time, time.Time) {
	first := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	hours := int(time.Date(2001, 7, 1, 0, 0, 0, 0, time.UTC).Sub(first).Hours())
	a, b := r.IntN(hours), r.IntN(hours)
	if a > b {
		a, b = b, a
	}
	return first.Add(time.Duration(a) * time.Hour), first.Add(time.Duration(b+1) * time.Hour)
}

// recorder sends requests and records their latencies and errors.
type recorder struct {
	client   *http.Client
	mu       sync.Mutex
	lat      []time.Duration
	errs     atomic.Int64
	requests atomic.Int64
}

// do sends one request and records its latency from since (when it was due).
func (rec *recorder) do(url string, since time.Time) {
	resp, err := rec.client.Get(url)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	d := time.Since(since)
	rec.requests.Add(1)
	if err != nil {
		rec.errs.Add(1)
		return
	}
	rec.mu.Lock()
	rec.lat = append(rec.lat, d)
	rec.mu.Unlock()
}

// openLoop: a ticker schedules rate requests a second; a pool of conns
// senders takes them, so a slow server makes requests late, not fewer.
func openLoop(ctx context.Context, rec *recorder, next func(*rand.Rand) string, rate, conns int, start time.Time) {
	var wg sync.WaitGroup
	work := make(chan time.Time, rate)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for at := range work {
				rec.do(next(r), at)
			}
		}(uint64(i))
	}
	interval := time.Second / time.Duration(rate)
	for at := start; ctx.Err() == nil; at = at.Add(interval) {
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		work <- at
	}
	close(work)
	wg.Wait()
}

// closedLoop: conns senders, each sending its next request when the last
// one is answered.
func closedLoop(ctx context.Context, rec *recorder, next func(*rand.Rand) string, conns int) {
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 2))
			for ctx.Err() == nil {
				rec.do(next(r), time.Now())
			}
		}(uint64(i))
	}
	wg.Wait()
}

// report is the run's summary, as printed.
func (rec *recorder) report(rate, conns int, mix string, el time.Duration) map[string]any {
	lat := rec.lat
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	return map[string]any{
		"mode": map[bool]string{true: "open", false: "closed"}[rate > 0], "rate": rate, "conns": conns, "mix": mix,
		"requests": rec.requests.Load(), "errors": rec.errs.Load(), "seconds": el.Seconds(),
		"rps": float64(rec.requests.Load()) / el.Seconds(), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1),
	}
}
