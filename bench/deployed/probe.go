package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// machine describes where the run happened.
func machine() map[string]any {
	m := map[string]any{"nproc": runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				m["mem_total_mb"] = int(kb / 1024)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		m["hostname"] = h
	}
	return m
}

// loadavg is /proc/loadavg's 1, 5 and 15 minute averages.
func loadavg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	var out []float64
	for _, s := range f[:min(3, len(f))] {
		x, _ := strconv.ParseFloat(s, 64)
		out = append(out, x)
	}
	return out
}

// gitInfo is the commit measured, and whether the tree had changes.
func gitInfo() map[string]any {
	out := map[string]any{}
	if b, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		out["commit"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		out["dirty"] = len(strings.TrimSpace(string(b))) > 0
	}
	return out
}

// redisStats is a snapshot of Redis's CPU seconds and per-command calls.
type redisStats struct {
	cpu   float64
	calls map[string]float64
	usec  map[string]float64
}

// infoField is the value of one field of an INFO reply.
func infoField(info, name string) (string, bool) {
	for k, v := range infoLines(info) {
		if k == name {
			return v, true
		}
	}
	return "", false
}

// infoLines yields the fields of an INFO reply (sections' headers and
// blank lines left out).
func infoLines(info string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, line := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && !strings.HasPrefix(k, "#") && !yield(k, v) {
				return
			}
		}
	}
}

func readRedis(ctx context.Context, rdb *redis.Client) (redisStats, error) {
	s := redisStats{calls: map[string]float64{}, usec: map[string]float64{}}
	txt, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return s, err
	}
	for k, v := range infoLines(txt) {
		switch {
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			s.cpu += f
		case strings.HasPrefix(k, "cmdstat_"):
			name := strings.TrimPrefix(k, "cmdstat_")
			for _, kv := range strings.Split(v, ",") {
				f, val, _ := strings.Cut(kv, "=")
				x, _ := strconv.ParseFloat(val, 64)
				switch f {
				case "calls":
					s.calls[name] = x
				case "usec":
					s.usec[name] = x
				}
			}
		}
	}
	return s, nil
}

// perThousand is the Redis work between two snapshots per 1,000 events.
func perThousand(a, b redisStats, events float64) map[string]any {
	k := events / 1000
	var total float64
	by := map[string]any{}
	for name, c := range b.calls {
		d := c - a.calls[name]
		if d <= 0 {
			continue
		}
		total += d
		by[name] = map[string]float64{"calls": round(d/k, 3), "usec": round((b.usec[name]-a.usec[name])/k, 1)}
	}
	return map[string]any{"cpu_ms": round((b.cpu-a.cpu)*1000/k, 3), "commands": round(total/k, 3),
		"cpu_s": round(b.cpu-a.cpu, 3), "by_command": by}
}

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if x < 0 {
		return -float64(int64(-x*p+0.5)) / p
	}
	return float64(int64(x*p+0.5)) / p
}

// getJSON decodes a GET's JSON answer into v, with a bearer token if set.
func getJSON(ctx context.Context, url, token string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// getText is a GET's body.
func getText(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// metricSum sums the samples of a Prometheus metric in a /metrics text.
func metricSum(text, name string) (float64, bool) {
	var sum float64
	found := false
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name) {
			continue
		}
		rest := l[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(l)
		x, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += x
			found = true
		}
	}
	return sum, found
}

// waitFor polls cond every interval until it holds, fails, or limit passes.
func waitFor(ctx context.Context, what string, limit, every time.Duration, alive func() error, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if alive != nil {
			if err := alive(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %v (last error: %v)", what, limit, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
