package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

//go:embed benchmarks.md.tmpl
var docTemplate string

func main() {
	in := flag.String("in", "bench/results/latest.json", "results of a `make bench` run")
	doc := flag.String("doc", "", "write the documentation generated from the template here (e.g. docs/benchmarks.md); without it, print the table")
	flag.Parse()
	res, err := load(*in)
	if err == nil {
		if *doc == "" {
			err = printTable(os.Stdout, res)
		} else {
			err = writeDoc(*doc, *in, res)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// results is a run's JSON, read loosely: a phase that did not run is absent.
type results map[string]any

func load(path string) (results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// get walks a path of object keys; ok is false if any is missing.
func (r results) get(path ...string) (any, bool) {
	var cur any = map[string]any(r)
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (r results) num(path ...string) (float64, bool) {
	v, ok := r.get(path...)
	if !ok {
		return 0, false
	}
	f, ok := v.(float64)
	return f, ok
}

// median is the median of a field over the runs of a scheduler measurement.
func (r results) median(system, shape, field string) (float64, bool) {
	v, ok := r.get("scheduler", system, shape)
	if !ok {
		return 0, false
	}
	runs, _ := v.([]any)
	var xs []float64
	for _, x := range runs {
		if m, ok := x.(map[string]any); ok {
			if f, ok := m[field].(float64); ok {
				xs = append(xs, f)
			}
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	return xs[len(xs)/2], true
}

// row is a line of the table of ratios.
type row struct {
	Layer, Measure, Tributary, Reference, Ratio, Aim, Verdict string
}

// aim is a target: at least or at most Value, in the row's unit.
type aim struct {
	atLeast bool
	value   float64
	text    string
}

func (a aim) verdict(x float64) string {
	if a.text == "" {
		return ""
	}
	if a.atLeast && x >= a.value || !a.atLeast && x <= a.value {
		return "met"
	}
	if a.atLeast {
		return "**missed** (" + factor(a.value/x) + " short)"
	}
	return "**missed** (" + factor(x/a.value) + " over)"
}

// factor is how far a figure is from its aim: two significant digits
// below 10, whole numbers above.
func factor(f float64) string {
	if f >= 10 {
		return thousands(f) + "×"
	}
	return fmt.Sprintf("%.2g×", f)
}

func atLeast(v float64, text string) aim { return aim{true, v, text} }
func atMost(v float64, text string) aim  { return aim{false, v, text} }

// rows computes the table of ratios from the results.
func rows(r results) []row {
	return slices.Concat(schedulerRows(r), batchRows(r), speedRows(r), serveRows(r), memoryRows(r))
}

// memoryRows are the peak RSS of Tributary's processes, for the one table.
func memoryRows(r results) []row {
	var out []row
	for _, rw := range rssRows(r) {
		if rw.Layer == "tributary" {
			out = append(out, row{"memory", "peak RSS of " + rw.Measure + " (MB)", rw.Tributary, "", "", rw.Aim, rw.Verdict})
		}
	}
	return out
}

func schedulerRows(r results) []row {
	var out []row
	tasks := map[string]string{}
	if t, ok := r.num("config", "tasks"); ok {
		tasks["independent"] = fmt.Sprintf("%s independent no-op tasks", thousands(t))
	}
	if l, ok := r.num("config", "leaves"); ok {
		tasks["tree"] = fmt.Sprintf("tree reduction of %s leaves, fan-in 8", thousands(l))
	}
	workers, _ := r.num("config", "batch_workers")
	for _, shape := range []string{"independent", "tree"} {
		t, ok := r.median("tributary", shape, "tasks_per_s")
		if !ok {
			continue
		}
		n, _ := r.median("tributary", shape, "tasks")
		m := tasks[shape] + ", tasks/s"
		if shape == "tree" {
			m = fmt.Sprintf("%s (%s tasks), tasks/s", tasks[shape], thousands(n))
		}
		refs := []struct {
			sys, name string
			a         aim
		}{
			{"raw_asynq", fmt.Sprintf("raw asynq, %g server processes", workers), atLeast(0.8, "≥ 0.8×")},
			{"dask_tuned", "Dask tuned (worker-saturation inf)", atLeast(3, "≥ 3×")},
			{"dask", "Dask out of the box", aim{}},
		}
		for _, ref := range refs {
			x, ok := r.median(ref.sys, shape, "tasks_per_s")
			if !ok {
				continue
			}
			out = append(out, row{"scheduler", m, thousands(t), ref.name + ": " + thousands(x), ratio(t / x),
				ref.a.text, ref.a.verdict(t / x)})
		}
	}
	return out
}

func batchRows(r results) []row {
	var out []row
	if ret, ok := r.num("batch", "returned_seconds"); ok {
		pub, _ := r.num("batch", "published_seconds")
		ev, _ := r.num("batch", "view_events")
		a := atMost(1, "≤ 1 s")
		out = append(out, row{"batch", fmt.Sprintf("full recompute of %s archived flights: published after (s)", thousands(ev)),
			secs(pub), "", "", a.text, a.verdict(pub)})
		a = atMost(1.5, "≤ 1.5 s")
		out = append(out, row{"batch", "`batch run --wait` returned after (s), reconciliation included", secs(ret), "", "", a.text, a.verdict(ret)})
		// The aims are held to the references computing the same two hourly
		// views (bench/batch_views.py); the per-airport references
		// (bench/batch_stats.py: 229 rows) are lighter work, kept for
		// comparison with earlier runs, and carry the aims only in runs
		// that predate the views references.
		_, views := r.num("batch", "pandas_views", "compute_s")
		light := func(a aim) aim {
			if views {
				return aim{}
			}
			return a
		}
		if p, ok := r.num("batch", "pandas_views", "compute_s"); ok {
			a := atLeast(2, "≥ 2× faster")
			out = append(out, row{"batch", "vs pandas computing the same two hourly views, its compute alone (returned; published)", secs(ret),
				"pandas compute: " + secs(p), ratio(p/ret) + "; " + ratio(p/pub), a.text, a.verdict(p / ret)})
		}
		if d, ok := r.num("batch", "dask_views_tuned", "end_to_end_s"); ok {
			a := atLeast(3, "≥ 3× faster")
			out = append(out, row{"batch", "vs Dask dataframe tuned computing the same views, end to end (returned; published)", secs(ret),
				"Dask tuned: " + secs(d), ratio(d/ret) + "; " + ratio(d/pub), a.text, a.verdict(d / ret)})
		}
		if p, ok := r.num("batch", "pandas", "compute_s"); ok {
			a := light(atLeast(2, "≥ 2× faster"))
			out = append(out, row{"batch", "vs pandas' compute alone (returned; published)" + lightNote(views), secs(ret),
				"pandas compute: " + secs(p), ratio(p/ret) + "; " + ratio(p/pub), a.text, a.verdict(p / ret)})
		}
		if d, ok := r.num("batch", "dask_tuned", "end_to_end_s"); ok {
			a := light(atLeast(3, "≥ 3× faster"))
			out = append(out, row{"batch", "vs Dask dataframe tuned, end to end (returned; published)" + lightNote(views), secs(ret),
				"Dask tuned: " + secs(d), ratio(d/ret) + "; " + ratio(d/pub), a.text, a.verdict(d / ret)})
		}
	}
	return out
}

// lightNote labels the per-airport references' rows in a run that also has
// the views references.
func lightNote(views bool) string {
	if views {
		return ", per-airport statistics only (229 rows: lighter than the views)"
	}
	return ""
}

func speedRows(r results) []row {
	var out []row
	if ev, ok := r.num("speed", "applied_events_per_s"); ok {
		raw, _ := r.num("speed", "raw_consume", "events_per_s")
		a := atLeast(300000, "≥ 300,000/s")
		out = append(out, row{"speed", "events/s applied, replay --speed max to every offset committed", thousands(ev),
			"bare amqp091 consumer: " + thousands(raw), ratio(ev / raw), a.text, a.verdict(ev)})
		behind, _ := r.num("speed", "behind_replay_end_s")
		rep, _ := r.num("speed", "replay_events_per_s")
		a = atMost(2, "≤ 2 s")
		out = append(out, row{"speed", "caught up after the replay's end (s)", secs(behind),
			"replay alone: " + thousands(rep) + " events/s", "", a.text, a.verdict(behind)})
		cmds, _ := r.num("speed", "redis_per_1000_events", "commands")
		cpu, _ := r.num("speed", "redis_per_1000_events", "cpu_ms")
		out = append(out, row{"speed", "Redis per 1,000 events: commands (scripts' included); CPU", fmt.Sprintf("%s; %.1f ms", thousands(cmds), cpu),
			"", "", "far less", ""})
		if fl, ok := r.num("speed", "workers", "flushes"); ok {
			mean, _ := r.num("speed", "workers", "flush_mean_ms")
			refused, _ := r.num("speed", "workers", "flush_refused")
			lost, _ := r.num("speed", "workers", "leases_lost")
			out = append(out, row{"speed", "flushes (mean ms); refused by fencing; leases lost", fmt.Sprintf("%s (%.0f); %s; %s",
				thousands(fl), mean, thousands(refused), thousands(lost)), "", "", "", ""})
		}
		if c, ok := r.num("speed", "workers", "cpu_s_per_million_events"); ok {
			out = append(out, row{"speed", "speed workers' CPU per 1,000,000 events (s)", fmt.Sprintf("%.2f", c), "", "", "", ""})
		}
	}
	if p99, ok := r.num("latency", "p99_ms"); ok {
		rate, _ := r.num("latency", "rate")
		p50, _ := r.num("latency", "p50_ms")
		mx, _ := r.num("latency", "max_ms")
		bound, _ := r.num("latency", "bound_ms")
		workers := "2"
		if n, ok := r.num("config", "speed_workers"); ok {
			workers = thousands(n)
		}
		a := atMost(bound, fmt.Sprintf("≤ flush + 100 ms (%g ms)", bound))
		out = append(out, row{"speed", fmt.Sprintf("event to view at %s events/s (tools/evalfeed), %s speed workers: p50; p99; max (ms)", thousands(rate), workers),
			fmt.Sprintf("%.0f; %.0f; %.0f", p50, p99, mx), "", "", a.text, a.verdict(p99)})
	}
	return out
}

func serveRows(r results) []row {
	var out []row
	if rps, ok := r.num("serve", "closed", "rps"); ok {
		get, _ := r.num("serve", "redis_get", "rps")
		conns, _ := r.num("serve", "closed", "conns")
		p99, _ := r.num("serve", "closed", "p99_ms")
		errs, _ := r.num("serve", "closed", "errors")
		a := atLeast(10000, "≥ 10,000 req/s")
		out = append(out, row{"serve", fmt.Sprintf("uncached mix, closed loop, %g connections: req/s (p99 %.0f ms, %g errors)", conns, p99, errs),
			thousands(rps), "redis-benchmark GET: " + thousands(get), ratio(rps / get), a.text, a.verdict(rps)})
	}
	if p99, ok := r.num("serve", "open", "p99_ms"); ok {
		rate, _ := r.num("serve", "open", "rate")
		p50, _ := r.num("serve", "open", "p50_ms")
		rps, _ := r.num("serve", "open", "rps")
		a := atMost(10, "≤ 10 ms")
		out = append(out, row{"serve", fmt.Sprintf("uncached mix, open loop at %s req/s (sent %s/s): p50; p99 (ms)", thousands(rate), thousands(rps)),
			fmt.Sprintf("%.1f; %.1f", p50, p99), "", "", a.text, a.verdict(p99)})
	}
	out = append(out, allDataRows(r)...)
	return append(out, speedOnlyRows(r)...)
}

// allDataQueries name the queries over all data bench/deployed times.
var allDataQueries = []struct{ key, what string }{
	{"top_delay_p95", "top 10 airports by p95 delay"},
	{"top_flights", "top 10 airports by flights"},
	{"airport_atl", "one airport (ATL)"},
	{"route_atl_ord", "one route (ATL-ORD)"},
}

// speedOnlyQueries name the queries bench/deployed times at the limits of
// the speed part, before any batch run (every hour read from Redis).
var speedOnlyQueries = []struct{ key, what string }{
	{"top_flights_96h", "top 10 airports by flights over 96 speed hours"},
	{"top_delay_p95_96h", "top 10 airports by p95 delay over 96 speed hours"},
	{"airport_atl_half_year", "one airport (ATL) over the half year of speed hours"},
	{"route_atl_ord_half_year", "one route (ATL-ORD) over the half year of speed hours"},
	{"series_atl_768h", "ATL's hourly series over 768 speed hours"},
}

// speedOnlyRows: serve's worst admitted queries with no batch view,
// uncached, one at a time; the aim holds every request to 50 ms.
func speedOnlyRows(r results) []row {
	return latencyRows(r, []string{"speed", "serve_speed_only"}, speedOnlyQueries, ", no batch view", false)
}

// latencyRows: one row per query timed uncached, one request at a time,
// under the results' section (the first request's time too when first);
// the aim holds every request (the max) to 50 ms.
func latencyRows(r results, section []string, queries []struct{ key, what string }, where string, first bool) []row {
	at := func(keys ...string) (float64, bool) { return r.num(append(slices.Clone(section), keys...)...) }
	var out []row
	n, _ := at("requests_per_query")
	for _, q := range queries {
		mx, ok := at(q.key, "max_ms")
		if !ok {
			continue
		}
		p50, _ := at(q.key, "p50_ms")
		p99, _ := at(q.key, "p99_ms")
		cols, vals := "p50; p99; max", fmt.Sprintf("%.1f; %.1f; %.1f", p50, p99, mx)
		if first {
			f, _ := at(q.key, "first_ms")
			cols, vals = "first; "+cols, fmt.Sprintf("%.1f; ", f)+vals
		}
		a := atMost(50, "≤ 50 ms")
		out = append(out, row{"serve", fmt.Sprintf("%s%s, uncached, %g requests one at a time: %s (ms)", q.what, where, n, cols),
			vals, "", "", a.text, a.verdict(mx)})
	}
	return out
}

// allDataRows: each query over all data (no from/to), uncached, one at a
// time; the aim holds every request (the max) to 50 ms.
func allDataRows(r results) []row {
	out := latencyRows(r, []string{"serve", "all_data"}, allDataQueries, " over all data", true)
	if rss, ok := r.num("serve", "all_data", "serve_rss_mb"); ok {
		hwm, _ := r.num("serve", "all_data", "serve_hwm_mb")
		a := atMost(512, "≤ 512 MB")
		out = append(out, row{"serve", "serve's RSS after the queries over all data: now; peak (MB)", fmt.Sprintf("%.0f; %.0f", rss, hwm),
			"", "", a.text, a.verdict(hwm)})
	}
	return out
}

// rssAims are issue 12's memory aims by role prefix, in MB.
var rssAims = []struct {
	prefix string
	mb     float64
}{{"speed-", 256}, {"lat-speed-", 256}, {"archive", 256}, {"worker-", 512}, {"serve", 512}}

// rssRows is every role's peak RSS, the pipeline's roles first.
func rssRows(r results) []row {
	v, ok := r.get("rss_mb")
	if !ok {
		return nil
	}
	m, _ := v.(map[string]any)
	pipeline := regexp.MustCompile(`^(scheduler|worker-\d+|(lat-)?speed-\d+|archive|serve|replay|batch-run|graph-bench|(lat-)?streams-(declare|delete))$`)
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := pipeline.MatchString(names[i]), pipeline.MatchString(names[j])
		if pi != pj {
			return pi
		}
		return names[i] < names[j]
	})
	var out []row
	for _, n := range names {
		mb, _ := m[n].(float64)
		kind := "reference / tool"
		if pipeline.MatchString(n) {
			kind = "tributary"
		}
		rw := row{Layer: kind, Measure: n, Tributary: fmt.Sprintf("%.0f", mb)}
		for _, a := range rssAims {
			if strings.HasPrefix(n, a.prefix) {
				am := atMost(a.mb, fmt.Sprintf("≤ %.0f MB", a.mb))
				rw.Aim, rw.Verdict = am.text, am.verdict(mb)
			}
		}
		out = append(out, rw)
	}
	return out
}

func ratio(x float64) string {
	if x < 0.1 {
		return fmt.Sprintf("%.2g×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

func secs(x float64) string { return fmt.Sprintf("%.2f", x) }

// thousands formats a number rounded to an integer with comma separators.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func ratioTable(rs []row) string {
	var b strings.Builder
	b.WriteString("| layer | measure | Tributary | reference, same run | ratio | aim (issue 12) | |\n|---|---|---:|---|---:|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Layer, r.Measure, r.Tributary, r.Reference, r.Ratio, r.Aim, r.Verdict)
	}
	return b.String()
}

func rssTable(rs []row) string {
	var b strings.Builder
	b.WriteString("| | process | peak RSS (MB) | aim | |\n|---|---|---:|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Layer, r.Measure, r.Tributary, r.Aim, r.Verdict)
	}
	return b.String()
}

// header says what the run was and where.
func header(r results) string {
	commit, _ := r.get("git", "commit")
	dirty, _ := r.get("git", "dirty")
	started, _ := r.get("started_at")
	nproc, _ := r.num("machine", "nproc")
	mem, _ := r.num("machine", "mem_total_mb")
	kernel, _ := r.get("machine", "kernel")
	rows, _ := r.num("config", "rows")
	s := fmt.Sprintf("Run %v, commit %.12v", started, commit)
	if dirty == true {
		s += " (with uncommitted changes)"
	}
	s += fmt.Sprintf("; %g CPUs, %s MB, Linux %v; load average before %s, after %s; %s flights",
		nproc, thousands(mem), kernel, loads(r, "load_before"), loads(r, "load_after"), thousands(rows))
	if q, _ := r.get("config", "quick"); q == true {
		s += "; **quick run (BENCH_QUICK=1): smaller sizes, the aims are for the full size**"
	}
	if e, ok := r.get("error"); ok {
		s += fmt.Sprintf("; **the run failed: %v**", e)
	}
	return s + "."
}

func loads(r results, key string) string {
	v, _ := r.get("machine", key)
	xs, _ := v.([]any)
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, " / ")
}

func printTable(w io.Writer, r results) error {
	fmt.Fprintln(w, header(r))
	fmt.Fprintln(w)
	fmt.Fprint(w, ratioTable(rows(r)))
	return nil
}

// redisCommands is the speed phase's Redis commands per 1,000 events, the
// busiest first.
func redisCommands(r results) string {
	v, ok := r.get("speed", "redis_per_1000_events", "by_command")
	if !ok {
		return ""
	}
	m, _ := v.(map[string]any)
	type c struct {
		name        string
		calls, usec float64
	}
	var cs []c
	for k, x := range m {
		xm, _ := x.(map[string]any)
		calls, _ := xm["calls"].(float64)
		usec, _ := xm["usec"].(float64)
		if calls >= 0.5 || usec >= 50 {
			cs = append(cs, c{k, calls, usec})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].usec > cs[j].usec })
	var b strings.Builder
	b.WriteString("| command | calls per 1,000 events | Redis µs per 1,000 events |\n|---|---:|---:|\n")
	for _, x := range cs {
		fmt.Fprintf(&b, "| %s | %.1f | %s |\n", x.name, x.calls, thousands(x.usec))
	}
	return b.String()
}

// notes are sentences read off the figures, for the doc: where the time
// of a missed figure went, as far as the JSON shows it.
func notes(r results) []string {
	var out []string
	if ret, ok := r.num("batch", "returned_seconds"); ok {
		pub, _ := r.num("batch", "published_seconds")
		if ret-pub > 1 {
			out = append(out, fmt.Sprintf("`batch run --wait` returned %.1f s after the view was published (%.2f s): "+
				"that time is the graph's last task, the reconciliation, not the recompute.", ret-pub, pub))
		}
	}
	if v, ok := r.get("speed", "redis_per_1000_events", "by_command"); ok {
		m, _ := v.(map[string]any)
		type c struct {
			name        string
			calls, usec float64
		}
		var cs []c
		var total float64
		for k, x := range m {
			xm, _ := x.(map[string]any)
			calls, _ := xm["calls"].(float64)
			usec, _ := xm["usec"].(float64)
			cs = append(cs, c{k, calls, usec})
			total += usec
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].calls > cs[j].calls })
		if len(cs) >= 2 && total > 0 {
			out = append(out, fmt.Sprintf("Per 1,000 events the speed phase ran %s %s and %s %s in Redis "+
				"(commands inside scripts count here): about one of each per event.",
				thousands(cs[0].calls), strings.ToUpper(cs[0].name), thousands(cs[1].calls), strings.ToUpper(cs[1].name)))
		}
	}
	if refused, ok := r.num("speed", "workers", "flush_refused"); ok && refused > 0 {
		lost, _ := r.num("speed", "workers", "leases_lost")
		out = append(out, fmt.Sprintf("%s flushes were refused by fencing and %s leases found lost during the speed phase: "+
			"under load, leases expired and partitions moved between the workers (their deltas are applied again by the new owner).",
			thousands(refused), thousands(lost)))
	}
	var over []string
	for _, rw := range rssRows(r) {
		if strings.HasPrefix(rw.Verdict, "**missed**") {
			over = append(over, fmt.Sprintf("%s %s MB", rw.Measure, rw.Tributary))
		}
	}
	if len(over) > 0 {
		out = append(out, "Over their memory aim: "+strings.Join(over, ", ")+".")
	}
	return out
}

func writeDoc(path, in string, r results) error {
	t, err := template.New("doc").Parse(docTemplate)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(r["config"], "", "  ")
	if err != nil {
		return err
	}
	data := map[string]any{
		"Source":        in,
		"Header":        header(r),
		"Table":         ratioTable(rows(r)),
		"RSS":           rssTable(rssRows(r)),
		"RedisCommands": redisCommands(r),
		"Config":        string(js),
		"R":             r,
		"Notes":         notes(r),
	}
	// Loaded: the 1-minute load average before or after exceeded the CPUs.
	nproc, _ := r.num("machine", "nproc")
	for _, k := range []string{"load_before", "load_after"} {
		v, _ := r.get("machine", k)
		if xs, _ := v.([]any); len(xs) > 0 {
			if l, _ := xs[0].(float64); nproc > 0 && l > nproc {
				data["Loaded"] = true
			}
		}
	}
	data["Load"] = loads(r, "load_before") + " before, " + loads(r, "load_after") + " after"
	data["NProc"] = nproc
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
