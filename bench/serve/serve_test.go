package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/pipelinetest"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/serving"
	"github.com/tributary-dev/tributary/speed/store"
)

// BenchmarkServe loads the whole data set through the pipeline (the batch view
// covers up to the last days; the speed layer holds the rest), serves it, and
// runs, each as a separate process against the same machine's services:
// loadgen at a fixed 2,000 requests/s and closed-loop, then redis-benchmark's
// GET on the same Redis. Run it with -benchtime 1x (bench/serve.sh does).
func BenchmarkServe(b *testing.B) {
	const (
		total  = 3_000_000
		inBulk = 2_850_000 // archived and in the batch view; the rest only in the speed layer
	)
	p := pipelinetest.New(b)
	p.StartSpeed(2)
	stopArchive := p.StartArchiver(200_000)
	p.StartBatch()
	p.Replay(inBulk)
	p.WaitArchived(inBulk)
	m := p.Recompute()
	stopArchive()
	p.Replay(total)
	p.WaitSpeed(total)
	b.Logf("batch view v%d exact until %s", m.Version, time.Unix(m.Boundary, 0).UTC().Format(time.RFC3339))

	airports, err := serving.LoadAirports(testenv.DataFile(b, "airports.csv"))
	if err != nil {
		b.Fatal(err)
	}
	// The server as `tributary serve` runs it (answers memoized), and one
	// without the cache: every request merges the views.
	base, uncached := startServer(b, p, airports, 50_000), startServer(b, p, airports, 0)
	gen := buildLoadgen(b)
	load := func(base string, args ...string) map[string]float64 { return runLoadgen(b, gen, base, args...) }
	// Warm both servers (first queries load the view and build rollups).
	load(base, "-c", "8", "-d", "3s")
	load(uncached, "-c", "8", "-d", "3s")
	b.ResetTimer()
	fixed := load(base, "-rate", "2000", "-c", "64", "-d", "15s")
	closed := load(base, "-c", "32", "-d", "15s")
	fixedRaw := load(uncached, "-rate", "2000", "-c", "64", "-d", "15s")
	closedRaw := load(uncached, "-c", "32", "-d", "15s")
	redisGet := redisBenchmark(b)
	b.StopTimer()

	b.ReportMetric(fixed["p50_ms"], "p50-ms@2000rps")
	b.ReportMetric(fixed["p99_ms"], "p99-ms@2000rps")
	b.ReportMetric(closed["rps"], "max-req/s")
	b.ReportMetric(redisGet, "redis-GET/s")
	fmt.Fprintf(os.Stderr, "\n| | requests/s | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|\n"+
		"| /v1/airports/{iata}, month ranges, fixed 2,000 req/s | %.0f | %.2f | %.2f |\n"+
		"| /v1/airports/{iata}, month ranges, closed loop (32 connections) | %.0f | %.2f | %.2f |\n"+
		"| same, without the answer cache, fixed 2,000 req/s | %.0f | %.2f | %.2f |\n"+
		"| same, without the answer cache, closed loop | %.0f | %.2f | %.2f |\n"+
		"| redis-benchmark GET (50 clients, same Redis) | %.0f | | |\n"+
		"| ratio: API max / Redis GET (cached, uncached) | %.3f, %.3f | | |\n",
		fixed["rps"], fixed["p50_ms"], fixed["p99_ms"], closed["rps"], closed["p50_ms"], closed["p99_ms"],
		fixedRaw["rps"], fixedRaw["p50_ms"], fixedRaw["p99_ms"], closedRaw["rps"], closedRaw["p50_ms"], closedRaw["p99_ms"],
		redisGet, closed["rps"]/redisGet, closedRaw["rps"]/redisGet)
}

// startServer serves the pipeline's views as `tributary serve` does, with
// an answer cache of cache entries, and returns its base URL.
func startServer(b *testing.B, p *pipelinetest.Pipeline, airports map[string]serving.Airport, cache int) string {
	srv, err := serving.New(serving.Config{Batch: serving.NewBatchCache(p.Redis, p.Prefix, 500*time.Millisecond),
		Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis, KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions,
		Airports: airports, Log: p.Log, AnswerCache: cache, FreshFor: 500 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go func() { _ = hs.Serve(ln) }()
	b.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// buildLoadgen builds ./loadgen, run as a process of its own.
func buildLoadgen(b *testing.B) string {
	gen := filepath.Join(b.TempDir(), "loadgen")
	build := exec.Command("go", "build", "-o", gen, "./loadgen")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build loadgen: %v\n%s", err, out)
	}
	return gen
}

// runLoadgen runs loadgen against base and returns its numeric results.
func runLoadgen(b *testing.B, gen, base string, args ...string) map[string]float64 {
	out, err := exec.Command(gen, append([]string{"-url", base}, args...)...).Output()
	if err != nil {
		b.Fatalf("loadgen %v: %v\n%s", args, err, out)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	f := map[string]float64{}
	for k, v := range r {
		if x, ok := v.(float64); ok {
			f[k] = x
		}
	}
	return f
}

// redisBenchmark runs redis-benchmark's GET against the project's Redis and
// returns its requests per second.
func redisBenchmark(b *testing.B) float64 {
	u, err := url.Parse(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	pw, _ := u.User.Password()
	args := []string{"-h", u.Hostname(), "-p", u.Port(), "-a", pw, "-t", "get", "-n", "300000", "-c", "50", "--csv"}
	cmd := exec.Command("redis-benchmark", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("redis-benchmark: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`"GET","([0-9.]+)"`).FindStringSubmatch(out.String())
	if m == nil {
		b.Fatalf("redis-benchmark said: %s", out.String())
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
