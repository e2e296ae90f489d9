package serving_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-dev/tributary/internal/pipelinetest"
	"github.com/tributary-dev/tributary/serving"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestIdenticalConcurrentQueriesComputeOnce fires concurrent uncached
// queries at a server over real views, holding every computation until all
// the requests are in flight: identical queries (the same path and
// parameters, in any order) are computed once and all get that answer;
// different queries are each computed, each getting its own answer. The
// answers are those of a server that computes every request alone.
func TestIdenticalConcurrentQueriesComputeOnce(t *testing.T) {
	const n = 30_000
	p := pipelinetest.New(t)
	p.StartSpeed(2)
	p.Replay(n)
	p.WaitSpeed(n)
	config := func(reg prometheus.Registerer) serving.Config {
		return serving.Config{
			Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
			KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Log: p.Log, Reg: reg,
			// The answer cache on, as serve runs, and a deadline the held
			// computations never reach on a loaded machine.
			AnswerCache: 1000, FreshFor: time.Minute, RequestTimeout: 5 * time.Minute,
		}
	}
	alone, err := serving.New(config(nil))
	if err != nil {
		t.Fatal(err)
	}
	ref := httptest.NewServer(alone.Handler())
	defer ref.Close()
	client := &http.Client{Timeout: 5 * time.Minute}
	body := func(url string) (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
		}
		return string(b), err
	}

	const top = "/v1/airports?by=delay_p95&limit=10"
	tests := []struct {
		name     string
		paths    []string // sent at once, each by 4 clients
		computed map[string]float64
	}{
		{"identical top lists over all data", []string{top}, map[string]float64{"airports": 1}},
		{"identical, parameters in another order", []string{top, "/v1/airports?limit=10&by=delay_p95"}, map[string]float64{"airports": 1}},
		{"identical airports", []string{"/v1/airports/ATL"}, map[string]float64{"airport": 1}},
		{"different airports", []string{"/v1/airports/ATL", "/v1/airports/ORD"}, map[string]float64{"airport": 2}},
		{"different orders", []string{top, "/v1/airports?by=flights&limit=10"}, map[string]float64{"airports": 2}},
		{"different limits", []string{top, "/v1/airports?by=delay_p95&limit=9"}, map[string]float64{"airports": 2}},
		{"different endpoints", []string{"/v1/airports/ATL", "/v1/airports/ATL/hours", top},
			map[string]float64{"airport": 1, "airport_hours": 1, "airports": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := map[string]string{}
			for _, path := range tt.paths {
				b, err := body(ref.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				want[path] = b
			}
			// A fresh server: nothing of these queries is memoized.
			reg := prometheus.NewRegistry()
			srv, err := serving.New(config(reg))
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			serving.SetBeforeCompute(srv, func(ctx context.Context, _ string) {
				select {
				case <-release:
				case <-ctx.Done():
				}
			})
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()

			const clients = 4
			type got struct {
				path, body string
				err        error
			}
			out := make(chan got, clients*len(tt.paths))
			var wg sync.WaitGroup
			for _, path := range tt.paths {
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						b, err := body(hs.URL + path)
						out <- got{path, b, err}
					}()
				}
			}
			sent := float64(clients * len(tt.paths))
			pipelinetest.WaitFor(t, 2*time.Minute, "every request in flight", func() bool {
				return gathered(t, reg, "tributary_serve_requests_in_flight", "") == sent
			})
			close(release)
			wg.Wait()
			close(out)
			for g := range out {
				if g.err != nil {
					t.Fatal(g.err)
				}
				// Identical queries in another order share the first's answer.
				if w := want[g.path]; g.body != w {
					t.Fatalf("%s answered\n%s\nwant (computed alone)\n%s", g.path, g.body, w)
				}
			}
			var total float64
			for endpoint, n := range tt.computed {
				total += n
				if c := gathered(t, reg, "tributary_serve_computations_total", endpoint); c != n {
					t.Errorf("%s: %v computations for %v requests, want %v", endpoint, c, sent, n)
				}
			}
			if c := gathered(t, reg, "tributary_serve_computations_total", ""); c != total {
				t.Errorf("%v computations in all, want %v", c, total)
			}
		})
	}
}

// gathered sums the samples of a metric with the given endpoint label ("":
// every sample).
func gathered(t *testing.T, reg *prometheus.Registry, name, endpoint string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := endpoint == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
