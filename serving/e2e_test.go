package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynqmon"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/tributary-dev/tributary/ingest/stream"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/pipelinetest"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/serving"
	"github.com/tributary-dev/tributary/speed/store"
)

// flights is the expected data, straight from the Parquet file, in plain maps.
type flights struct {
	airport map[string]map[int64][]flight.Event // origin -> hour -> flights
	route   map[string]map[int64][]flight.Event // "ORIG-DEST" -> hour -> flights
}

func load(t *testing.T, n int64) flights {
	f, err := dataset.Open(testenv.DataFile(t, "flights-3m.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x := flights{airport: map[string]map[int64][]flight.Event{}, route: map[string]map[int64][]flight.Event{}}
	add := func(m map[string]map[int64][]flight.Event, k string, h int64, e flight.Event) {
		if m[k] == nil {
			m[k] = map[int64][]flight.Event{}
		}
		m[k][h] = append(m[k][h], e)
	}
	err = f.Scan(context.Background(), 0, n, func(b *dataset.Batch) error {
		for _, e := range b.Events {
			h := time.UnixMicro(e.Time).UTC().Truncate(time.Hour).Unix()
			add(x.airport, e.Origin, h, e)
			add(x.route, e.Origin+"-"+e.Destination, h, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// want is the exact answer over the hours [from, to).
type want struct {
	n             int
	mean, share   float64
	p50, p95, p99 int32
	min, max      int32
	destinations  int
}

func expect(byHour map[int64][]flight.Event, from, to int64) want {
	var delays []int32
	dests := map[string]bool{}
	var sum, delayed int64
	for h, es := range byHour {
		if h < from || h >= to {
			continue
		}
		for _, e := range es {
			delays = append(delays, e.Delay)
			dests[e.Destination] = true
			sum += int64(e.Delay)
			if e.Delay >= 15 {
				delayed++
			}
		}
	}
	if len(delays) == 0 {
		return want{}
	}
	slices.Sort(delays)
	rank := func(q float64) int32 { return delays[int(math.Max(1, math.Ceil(q*float64(len(delays)))))-1] }
	return want{n: len(delays), mean: float64(sum) / float64(len(delays)), share: float64(delayed) / float64(len(delays)),
		p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), min: delays[0], max: delays[len(delays)-1], destinations: len(dests)}
}

func get(t *testing.T, base, path string, code int, into any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, code)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
}

func within(got float64, want int32) bool {
	// The sketch's bound, plus the server's rounding to 2 decimals.
	return math.Abs(got-float64(want)) <= flight.SketchRelativeAccuracy*math.Abs(float64(want))+0.005
}

func check(t *testing.T, what string, a serving.Answer, w want, exact bool) {
	t.Helper()
	if a.Flights != int64(w.n) {
		t.Fatalf("%s: %d flights, want %d", what, a.Flights, w.n)
	}
	if w.n == 0 {
		return
	}
	if a.Exact != exact {
		t.Fatalf("%s: exact=%v, want %v", what, a.Exact, exact)
	}
	d := a.Delay
	// The server rounds the mean to 3 decimals and the share to 4: half a
	// unit of the last one, and a little for the float (10.3125 is 10.313).
	if *d.Min != w.min || *d.Max != w.max || math.Abs(*d.Mean-w.mean) > 0.0005+1e-9 || math.Abs(*a.DelayedShare-w.share) > 0.00005+1e-9 {
		t.Fatalf("%s: min %d max %d mean %v share %v, want %d %d %v %v", what, *d.Min, *d.Max, *d.Mean, *a.DelayedShare, w.min, w.max, w.mean, w.share)
	}
	for _, q := range []struct {
		name string
		got  float64
		want int32
	}{{"p50", *d.P50, w.p50}, {"p95", *d.P95, w.p95}, {"p99", *d.P99, w.p99}} {
		if exact && q.got != float64(q.want) || !exact && !within(q.got, q.want) {
			t.Fatalf("%s: %s = %v, want %d (exact=%v)", what, q.name, q.got, q.want, exact)
		}
	}
	if a.Destinations != nil {
		got, wd := float64(*a.Destinations), float64(w.destinations)
		if exact && got != wd || !exact && math.Abs(got-wd) > math.Max(1, 0.02*wd) {
			t.Fatalf("%s: %v destinations, want %v (exact=%v)", what, got, wd, exact)
		}
	}
}

// TestAnswersMergeBatchAndSpeedExactly replays 300,000 flights through the
// whole pipeline with one batch recompute on the way, and checks answers for
// ranges before, across and after the batch boundary against the Parquet file.
func TestAnswersMergeBatchAndSpeedExactly(t *testing.T) {
	const n = 300_000
	p := pipelinetest.New(t)
	p.StartSpeed(2)
	p.StartArchiver(40_000)
	p.StartBatch()
	// The batch run sees the first 240,000 flights; the replay then goes on
	// to 300,000, which only the speed layer has when the queries come.
	p.Replay(240_000)
	p.WaitArchived(240_000)
	m := p.Recompute()
	p.Replay(n)
	p.WaitSpeed(n)
	if m.Boundary == 0 {
		t.Fatal("the batch view has no boundary")
	}
	x := load(t, n)

	airports, err := serving.LoadAirports(testenv.DataFile(t, "airports.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := testenv.AMQP(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.New(serving.Config{
		Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
		KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Airports: airports, Log: p.Log,
		StreamEnds: func(context.Context) ([]int64, error) {
			ends := make([]int64, p.Streams.Partitions)
			for i := range ends {
				if ends[i], err = stream.End(ch, p.Streams.Queue(i)); err != nil {
					return nil, err
				}
			}
			return ends, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	b := m.Boundary
	iso := func(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }
	// The data end: the hour after the last flight replayed.
	var end int64
	for _, byHour := range x.airport {
		for h := range byHour {
			end = max(end, h+3600)
		}
	}
	t.Logf("batch boundary %s, data until %s", iso(b), iso(end))
	if end-b < 3*3600 {
		t.Fatalf("the boundary %s leaves less than 3 hours to the speed layer (data until %s): nothing fresh to test", iso(b), iso(end))
	}
	ranges := []struct {
		name     string
		from, to int64
		exact    bool
	}{
		{"before the boundary", b - 72*3600, b - 24*3600, true},
		{"days before the boundary, from mid-day", b - 6*24*3600 - 5*3600, b - 7*3600, true},
		{"up to the boundary", b - 24*3600, b, true},
		{"across the boundary", b - 24*3600, b + 3*3600, false},
		{"after the boundary", b, end, false},
	}
	for _, code := range []string{"ATL", "ORD", "DFW", "LAX", "SLC", "BUR"} {
		for _, r := range ranges {
			var a serving.Answer
			get(t, hs.URL, fmt.Sprintf("/v1/airports/%s?from=%s&to=%s", code, iso(r.from), iso(r.to)), 200, &a)
			check(t, code+" "+r.name, a, expect(x.airport[code], r.from, r.to), r.exact)
			if a.BatchUntil == nil || *a.BatchUntil != iso(b) {
				t.Fatalf("batch_until = %v, want %s", a.BatchUntil, iso(b))
			}
		}
		var all serving.Answer
		get(t, hs.URL, "/v1/airports/"+code, 200, &all)
		check(t, code+" all data", all, expect(x.airport[code], 0, math.MaxInt64), false)
	}
	for _, route := range []string{"ATL-ORD", "ORD-LGA", "LAX-SFO"} {
		o, d, _ := strings.Cut(route, "-")
		for _, r := range ranges {
			var a serving.Answer
			get(t, hs.URL, fmt.Sprintf("/v1/routes/%s/%s?from=%s&to=%s", o, d, iso(r.from), iso(r.to)), 200, &a)
			check(t, route+" "+r.name, a, expect(x.route[route], r.from, r.to), r.exact)
		}
	}

	// Honest exactness: a range the batch view does not reach yet is not
	// exact, even with no flights in it; a range before its boundary is.
	for _, c := range []struct {
		path  string
		exact bool
	}{
		{"/v1/airports/ORD?from=2001-03-01T00:00:00Z&to=2001-04-01T00:00:00Z", false},
		{"/v1/routes/ORD/LGA?from=2001-03-01T00:00:00Z&to=2001-04-01T00:00:00Z", false},
		{fmt.Sprintf("/v1/airports/ORD?from=%s&to=%s", iso(b-3600), iso(b+3600)), false},
		{"/v1/airports/ORD?from=2000-12-01T00:00:00Z&to=2000-12-02T00:00:00Z", true},
	} {
		var a serving.Answer
		get(t, hs.URL, c.path, 200, &a)
		if a.Exact != c.exact {
			t.Fatalf("%s: exact=%v with %d flights, want exact=%v (batch until %s)", c.path, a.Exact, a.Flights, c.exact, iso(b))
		}
	}
	// A century around the data answers what all the data answers.
	for _, code := range []string{"ATL", "BUR"} {
		var a serving.Answer
		get(t, hs.URL, "/v1/airports/"+code+"?from=1950-01-01T00:00:00Z&to=2050-01-01T00:00:00Z", 200, &a)
		check(t, code+" 1950 to 2050", a, expect(x.airport[code], 0, math.MaxInt64), false)
	}

	// The top lists over all data (a speed part: not exact) and up to the
	// boundary (the batch view's whole span: each airport's one aggregate
	// of all its hours, exact), every airport with flights, against the
	// flights themselves.
	for _, c := range []struct {
		query string
		to    int64
		exact bool
	}{{"", math.MaxInt64, false}, {"&to=" + iso(b), b, true}} {
		for _, by := range []string{"flights", "delay_p95"} {
			var top serving.Top
			get(t, hs.URL, "/v1/airports?limit=1000&by="+by+c.query, 200, &top)
			checkTop(t, by+c.query, top, by, x.airport, c.to, c.exact)
		}
	}

	// With the answer cache, the same answers, asked twice.
	cachedSrv, err := serving.New(serving.Config{
		Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
		KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Airports: airports, Log: p.Log, AnswerCache: 100, FreshFor: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	cached := httptest.NewServer(cachedSrv.Handler())
	defer cached.Close()
	for _, r := range ranges {
		path := fmt.Sprintf("/v1/airports/ATL?from=%s&to=%s", iso(r.from), iso(r.to))
		var plain, first, again serving.Answer
		get(t, hs.URL, path, 200, &plain)
		get(t, cached.URL, path, 200, &first)
		get(t, cached.URL, path, 200, &again)
		pj, _ := json.Marshal(plain)
		fj, _ := json.Marshal(first)
		aj, _ := json.Marshal(again)
		if string(pj) != string(fj) || string(fj) != string(aj) {
			t.Fatalf("cached answers differ for %s:\n%s\n%s\n%s", path, pj, fj, aj)
		}
	}
	// The top list is memoized too: the same list, asked twice, with any limit a prefix.
	for _, r := range ranges {
		q := fmt.Sprintf("from=%s&to=%s", iso(r.from), iso(r.to))
		var plain, first, again, short serving.Top
		get(t, hs.URL, "/v1/airports?by=delay_p95&limit=50&"+q, 200, &plain)
		get(t, cached.URL, "/v1/airports?by=delay_p95&limit=50&"+q, 200, &first)
		get(t, cached.URL, "/v1/airports?by=delay_p95&limit=50&"+q, 200, &again)
		get(t, cached.URL, "/v1/airports?by=delay_p95&limit=3&"+q, 200, &short)
		pj, _ := json.Marshal(plain)
		fj, _ := json.Marshal(first)
		aj, _ := json.Marshal(again)
		if string(pj) != string(fj) || string(fj) != string(aj) || len(plain.Airports) < 3 {
			t.Fatalf("cached top lists differ for %s:\n%s\n%s\n%s", q, pj, fj, aj)
		}
		sj, _ := json.Marshal(short.Airports)
		pj3, _ := json.Marshal(plain.Airports[:3])
		if string(sj) != string(pj3) {
			t.Fatalf("top 3 is not the prefix of top 50 for %s:\n%s\n%s", q, sj, pj3)
		}
	}

	// The top list agrees with the per-airport answers.
	var top serving.Top
	get(t, hs.URL, fmt.Sprintf("/v1/airports?by=flights&limit=5&from=%s&to=%s", iso(b-48*3600), iso(b)), 200, &top)
	if len(top.Airports) != 5 {
		t.Fatalf("top 5 has %d airports", len(top.Airports))
	}
	type kv struct {
		code string
		n    int
	}
	var counts []kv
	for code, byHour := range x.airport {
		counts = append(counts, kv{code, expect(byHour, b-48*3600, b).n})
	}
	slices.SortFunc(counts, func(a, b kv) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.code, b.code)
	})
	for i, e := range top.Airports {
		if e.Airport != counts[i].code || e.Flights != int64(counts[i].n) || !e.Exact {
			t.Fatalf("top %d: %+v, want %s with %d flights", i, e, counts[i].code, counts[i].n)
		}
	}

	// The hourly series adds up to the range answer.
	var series struct {
		Hours []serving.Hour `json:"hours"`
	}
	get(t, hs.URL, fmt.Sprintf("/v1/airports/ATL/hours?from=%s&to=%s", iso(b-6*3600), iso(b+3*3600)), 200, &series)
	var total int64
	for _, h := range series.Hours {
		total += h.Flights
	}
	if len(series.Hours) != 9 || total != int64(expect(x.airport["ATL"], b-6*3600, b+3*3600).n) {
		t.Fatalf("series: %d hours, %d flights", len(series.Hours), total)
	}

	var status struct {
		Batch *struct {
			Version  int64  `json:"version"`
			Boundary string `json:"boundary"`
		} `json:"batch"`
		Speed struct {
			Partitions []struct {
				Lag     *int64 `json:"lag"`
				Applied int64  `json:"applied"`
			} `json:"partitions"`
		} `json:"speed"`
	}
	// The stream's message count lags a little behind its last offset.
	pipelinetest.WaitFor(t, 30*time.Second, "status shows zero lag", func() bool {
		get(t, hs.URL, "/v1/status", 200, &status)
		for _, part := range status.Speed.Partitions {
			if part.Lag == nil || *part.Lag != 0 {
				return false
			}
		}
		return true
	})
	var applied int64
	for _, part := range status.Speed.Partitions {
		applied += part.Applied
	}
	if status.Batch == nil || status.Batch.Version != m.Version || status.Batch.Boundary != iso(b) || applied != n {
		t.Fatalf("status: %+v, %d applied", status, applied)
	}

	t.Run("live page in headless Chromium", func(t *testing.T) { checkPage(t, hs.URL) })

	// The page with a read token: the API refuses without it, the page asks
	// for it, and opened once as /?token=... it works (the cookie).
	guarded, err := serving.New(serving.Config{
		Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
		KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Airports: airports, Log: p.Log, ReadToken: "r3ad-t0ken",
	})
	if err != nil {
		t.Fatal(err)
	}
	gs := httptest.NewServer(guarded.Handler())
	defer gs.Close()
	get(t, gs.URL, "/v1/airports/ATL", 401, nil)
	get(t, gs.URL, "/?token=wrong", 401, nil)
	t.Run("live page with the read token", func(t *testing.T) {
		dom := chromium(t, gs.URL+"/")
		if strings.Contains(dom, `id="login" hidden`) || !strings.Contains(dom, "needs the read token") {
			t.Fatalf("without the token the page does not ask for it:\n%s", dom)
		}
		checkPage(t, gs.URL+"/?token=r3ad-t0ken")
	})
	// The picker: an airport and a range, in the address as the picker
	// writes it; the page shows that airport over that range.
	t.Run("picked airport and range", func(t *testing.T) {
		from, to := b-5*24*3600, b+2*3600
		dom := chromium(t, fmt.Sprintf("%s/?token=r3ad-t0ken#airport=ORD&from=%s&to=%s", gs.URL, iso(from), iso(to)))
		w := expect(x.airport["ORD"], from, to)
		shown := func(ms int64) string { return time.Unix(ms, 0).UTC().Format("2006-01-02 15:04") }
		for _, want := range []string{
			fmt.Sprintf("Hourly delay at ORD (%s)", airports["ORD"].Name),
			fmt.Sprintf("showing ORD, %s to %s UTC", shown(from), shown(to)),
			fmt.Sprintf("%d flights to ", w.n),
			fmt.Sprintf("Busiest airports, %s to %s UTC", shown(from), shown(to)),
			`value="ORD"`, `<span id="err"></span>`,
		} {
			if !strings.Contains(dom, want) {
				t.Fatalf("the page lacks %q:\n%s", want, dom)
			}
		}
		// Across the boundary: the summary is fresh, the chart has both marks.
		if strings.Count(dom, "<rect") < 72 || !strings.Contains(dom, `fill="var(--exact)"`) || !strings.Contains(dom, `fill="var(--fresh)"`) {
			t.Fatalf("the chart of the picked range lacks its bars or marks:\n%s", dom)
		}
	})
}

// checkTop checks a top list over the hours before to (from the data's
// start): every airport with flights, each entry's figures, and the order,
// by the exact figures when the list is exact and by its own p95s (within
// the sketch's bound of the exact ones) otherwise; ties by code.
func checkTop(t *testing.T, what string, top serving.Top, by string, byAirport map[string]map[int64][]flight.Event, to int64, exact bool) {
	t.Helper()
	wants := map[string]want{}
	for code, byHour := range byAirport {
		if w := expect(byHour, 0, to); w.n > 0 {
			wants[code] = w
		}
	}
	if len(top.Airports) != len(wants) {
		t.Fatalf("top by %s: %d airports, want %d", what, len(top.Airports), len(wants))
	}
	key := func(e serving.TopEntry) float64 {
		switch {
		case by == "flights":
			return float64(wants[e.Airport].n)
		case exact:
			return float64(wants[e.Airport].p95)
		}
		return *e.Delay.P95
	}
	seen := map[string]bool{}
	for i, e := range top.Airports {
		w, ok := wants[e.Airport]
		if !ok || seen[e.Airport] {
			t.Fatalf("top by %s: %s has no flights over the range, or is listed twice", what, e.Airport)
		}
		seen[e.Airport] = true
		check(t, fmt.Sprintf("top by %s #%d %s", what, i, e.Airport), serving.Answer{Flights: e.Flights, Delay: e.Delay,
			DelayedShare: e.DelayedShare, Exact: e.Exact}, w, exact)
		if i > 0 {
			p := top.Airports[i-1]
			if kp, ke := key(p), key(e); kp < ke || kp == ke && p.Airport > e.Airport {
				t.Fatalf("top by %s: %s (%v) before %s (%v)", what, p.Airport, kp, e.Airport, ke)
			}
		}
	}
}

// chromium loads url in headless Chromium (Debian's chromium), lets its
// scripts run, and returns the DOM they built; console errors fail the test.
func chromium(t *testing.T, url string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (make deps installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		// The 401s of a page without the token are expected: it then asks.
		if (strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught")) && !strings.Contains(line, "401") {
			t.Errorf("console: %s", line)
		}
	}
	if shot := os.Getenv("TRIBUTARY_SCREENSHOT"); shot != "" {
		// For a person to look at: TRIBUTARY_SCREENSHOT=/tmp/page go test -run TestAnswersMerge ./serving
		_ = exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--window-size=1280,1000",
			"--screenshot="+fmt.Sprintf("%s-%d.png", shot, time.Now().UnixNano()), url).Run()
	}
	return stdout.String()
}

// checkPage checks the live page following the newest event time.
func checkPage(t *testing.T, url string) {
	dom := chromium(t, url)
	body := func(id string) string {
		i := strings.Index(dom, `id="`+id+`"`)
		if i < 0 {
			t.Fatalf("the page has no #%s:\n%s", id, dom)
		}
		j := strings.Index(dom[i:], "</tbody>")
		if j < 0 {
			j = len(dom) - i
		}
		return dom[i : i+j]
	}
	if n := strings.Count(body("busiest"), `class="pick"`); n != 10 {
		t.Fatalf("the busiest-airports table has %d rows, want 10:\n%s", n, dom)
	}
	if !strings.Contains(body("busiest"), "ATL") || !strings.Contains(dom, "event time: 2001-01-19") {
		t.Fatalf("the page does not show the replayed data:\n%s", dom)
	}
	if strings.Count(dom, "<rect") < 24 || !strings.Contains(dom, "tag exact") || !strings.Contains(dom, "tag fresh") {
		t.Fatalf("the chart lacks its bars or the exact/fresh marks:\n%s", dom)
	}
	if !strings.Contains(dom, `<span id="err"></span>`) {
		t.Fatalf("the page shows an error:\n%s", dom)
	}
}

// TestBadRequests checks that every error is a JSON body saying what is wrong.
func TestBadRequests(t *testing.T) {
	p := pipelinetest.New(t)
	airports := map[string]serving.Airport{"ATL": {IATA: "ATL"}, "LAX": {IATA: "LAX"}}
	ropt, err := redisconn.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: ropt.Asynq()})
	defer mon.Close()
	srv, err := serving.New(serving.Config{Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions),
		Redis: p.Redis, KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Airports: airports, Log: p.Log, AdminToken: "s3cret",
		Monitoring: mon})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	tests := []struct {
		path string
		code int
		says string
	}{
		{"/v1/airports/ZZZ", 404, "not known"},
		{"/v1/airports/A1", 400, "IATA"},
		{"/v1/airports/ATL?from=yesterday", 400, "RFC 3339"},
		{"/v1/airports/ATL?from=2001-01-01T00:30:00Z", 400, "whole hour"},
		{"/v1/airports/ATL?from=2001-01-02T00:00:00Z&to=2001-01-01T00:00:00Z", 400, "before"},
		{"/v1/airports?by=name", 400, "by"},
		{"/v1/airports?limit=0", 400, "limit"},
		{"/v1/routes/ATL/ZZZ", 404, "not known"},
		{"/v1/airports/ATL/hours?from=2001-01-01T00:00:00Z&to=2001-03-01T00:00:00Z", 400, "at most"},
		{"/nope", 404, "no such path"},
		{"/v1/nope", 404, "no such path"},
		{"/v1/airports/ATL/hours/x", 404, "no such path"},
		// A long bad input is quoted by its first bytes only.
		{"/v1/airports/ATL?from=" + strings.Repeat("x", 100_000), 400, "(100000 bytes)"},
		{"/v1/airports?by=" + strings.Repeat("y", 50_000), 400, "(50000 bytes)"},
	}
	for _, tt := range tests {
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		get(t, hs.URL, tt.path, tt.code, &e)
		if e.Status != tt.code || !strings.Contains(e.Error, tt.says) || len(e.Error) > 300 {
			t.Errorf("%.80s: %.400v, want %d saying %q in at most 300 bytes", tt.path, e, tt.code, tt.says)
		}
	}
	// Known airport, no data yet: an empty answer, not an error.
	var a serving.Answer
	get(t, hs.URL, "/v1/airports/ATL", 200, &a)
	if a.Flights != 0 || a.BatchUntil != nil {
		t.Fatalf("empty pipeline answered %+v", a)
	}
	// Admin: refused without the token, accepted with it (no scheduler here: 503).
	for _, c := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer s3cret", 503}} {
		req, _ := http.NewRequest("POST", hs.URL+"/v1/admin/batch", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Fatalf("admin with %q: %d, want %d", c.auth, resp.StatusCode, c.code)
		}
	}
	// The asynq web UI: refused without the token, served with it.
	get(t, hs.URL, "/monitoring/", 401, nil)
	get(t, hs.URL, "/monitoring/?token=wrong", 401, nil)
	get(t, hs.URL, "/monitoring/?token=s3cret", 200, nil)
	// Opened once with the token, the UI's own requests carry the cookie.
	resp, err := http.Get(hs.URL + "/monitoring/?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("no HttpOnly SameSite=Strict cookie: %v", resp.Cookies())
	}
	req, _ := http.NewRequest("GET", hs.URL+"/monitoring/api/queues", nil)
	req.AddCookie(cookie)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the UI's API with the cookie: %d", resp.StatusCode)
	}
	get(t, hs.URL, "/", 200, nil)
	var doc map[string]any
	get(t, hs.URL, "/openapi.json", 200, &doc)
	if doc["openapi"] == nil {
		t.Fatal("openapi.json has no openapi field")
	}
	get(t, hs.URL, "/healthz", 200, nil)
	get(t, hs.URL, "/readyz", 200, nil)
}

// TestWorstQueriesAreBounded sends the queries that used to read without
// bound (no range, a century, after one stray event dated 2099): each
// answers within a generous time with little memory, as a clear 400 when it
// would read too much, and the answers over normal ranges do not change.
func TestWorstQueriesAreBounded(t *testing.T) {
	const n = 30_000
	p := pipelinetest.New(t)
	// The speed layer quarantines a 2099 event by default (--max-future,
	// speed's TestStrayEventsChangeNoOtherAnswer); here the bound is off so
	// that the stray event does reach the views: serving must stay bounded
	// even then (a deployment may run with the bound off or wide).
	p.MaxFuture = -1
	p.StartSpeed(2)
	p.Replay(n)
	p.WaitSpeed(n)
	x := load(t, n)
	srv, err := serving.New(serving.Config{
		Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
		KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Log: p.Log, AnswerCache: 1000, FreshFor: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	normal := func() map[string]string {
		out := map[string]string{}
		for _, path := range []string{"/v1/airports/ATL?from=2001-01-01T06:00:00Z&to=2001-01-02T06:00:00Z",
			"/v1/routes/ATL/ORD?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z",
			"/v1/airports?by=flights&limit=5&from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z"} {
			resp, err := http.Get(hs.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
			}
			out[path] = string(b)
		}
		return out
	}
	var a serving.Answer
	get(t, hs.URL, "/v1/airports/ATL?from=2001-01-01T06:00:00Z&to=2001-01-02T06:00:00Z", 200, &a)
	day := time.Date(2001, 1, 1, 6, 0, 0, 0, time.UTC).Unix()
	check(t, "ATL before the stray event", a, expect(x.airport["ATL"], day, day+24*3600), false)
	before := normal()

	// One valid event dated 2099 into ATL's partition.
	stray := flight.Event{ID: "stray-2099", Time: time.Date(2099, 12, 31, 12, 0, 0, 0, time.UTC).UnixMicro(), Origin: "ATL",
		Destination: "LAX", Delay: 7, Distance: 1946, Producer: "stray", Seq: 1}
	body, err := wire.NewArrowEncoder("stray").Encode([]flight.Event{stray})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := testenv.AMQP(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(context.Background(), "", p.Streams.Queue(p.Streams.PartitionOf("ATL")), false, false,
		amqp.Publishing{ContentType: wire.ContentTypeArrow, Body: body}); err != nil {
		t.Fatal(err)
	}
	p.WaitSpeed(n + 1)
	st, err := store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions).Partition(context.Background(), p.Streams.PartitionOf("ATL"))
	if err != nil || st.MaxTime != stray.Time {
		t.Fatalf("the speed layer did not apply the stray event (max time %d, want %d): %v", st.MaxTime, stray.Time, err)
	}
	time.Sleep(1100 * time.Millisecond) // the server's speed state is cached for a second

	worst := []struct {
		path string
		code int
		says string
	}{
		{"/v1/airports/ATL", 400, "narrower"},
		{"/v1/airports?by=delay_p95&limit=10", 400, "narrower"},
		{"/v1/airports?by=flights&limit=1000&from=1950-01-01T00:00:00Z&to=2050-01-01T00:00:00Z", 400, "narrower"},
		{"/v1/airports/ATL?from=1950-01-01T00:00:00Z&to=2050-01-01T00:00:00Z", 400, "narrower"},
		{"/v1/routes/ATL/LAX", 400, "narrower"},
		{"/v1/airports/ATL/hours", 400, "at most"},
		{"/v1/status", 200, ""},
		// The stray event's own hours answer, and are not exact.
		{"/v1/airports/ATL?from=2099-12-31T00:00:00Z&to=2100-01-01T00:00:00Z", 200, ""},
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for _, w := range worst {
		// Four at once, as a dashboard's clients would.
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				start := time.Now()
				resp, err := http.Get(hs.URL + w.path)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct {
					Error   string `json:"error"`
					Flights int64  `json:"flights"`
					Exact   bool   `json:"exact"`
				}
				switch took := time.Since(start); {
				case resp.StatusCode != w.code:
					errs <- fmt.Errorf("%d %s, want %d", resp.StatusCode, b, w.code)
				case json.Unmarshal(b, &e) != nil:
					errs <- fmt.Errorf("not JSON: %.200s", b)
				case !strings.Contains(e.Error, w.says):
					errs <- fmt.Errorf("error %q does not say %q", e.Error, w.says)
				case len(e.Error) > 400:
					errs <- fmt.Errorf("an error of %d bytes", len(e.Error))
				case strings.Contains(w.path, "2099") && (e.Flights != 1 || e.Exact):
					errs <- fmt.Errorf("the stray hours: %s", b)
				case took > 2*time.Second:
					errs <- fmt.Errorf("took %v", took)
				default:
					errs <- nil
				}
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("GET %s: %v", w.path, err)
			}
		}
	}
	runtime.ReadMemStats(&m1)
	// Everything the worst queries allocated, the speed workers' idle
	// polling included; reading the century hour by hour allocated GBs.
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 256<<20 {
		t.Errorf("the worst queries allocated %d MB", grew>>20)
	}
	t.Logf("the worst queries allocated %d MB", (m1.TotalAlloc-m0.TotalAlloc)>>20)
	after := normal()
	for path, b := range before {
		if after[path] != b {
			t.Errorf("%s changed after the stray event:\n%s\n%s", path, b, after[path])
		}
	}

	// A deadline past before any work: a JSON 503, not a hang or a 500.
	hurried, err := serving.New(serving.Config{
		Batch: serving.NewBatchCache(p.Redis, p.Prefix, 0), Speed: store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions), Redis: p.Redis,
		KeyPrefix: p.Prefix, Partitions: p.Streams.Partitions, Log: p.Log, RequestTimeout: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	hh := httptest.NewServer(hurried.Handler())
	defer hh.Close()
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	get(t, hh.URL, "/v1/airports/ATL?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z", 503, &e)
	if e.Status != 503 || !strings.Contains(e.Error, "did not finish") {
		t.Fatalf("past the deadline: %+v", e)
	}
}
