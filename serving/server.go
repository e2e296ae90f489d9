package serving

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/httpx"
	"github.com/tributary-dev/tributary/serving/query"
)

// Config of the HTTP server.
type Config struct {
	Batch      BatchSource
	Speed      SpeedSource
	Redis      redis.UniversalClient
	KeyPrefix  string
	Partitions int
	// Airports lists the known IATA codes: any other is a 404. Empty: an
	// airport is known when some view holds data for it.
	Airports map[string]Airport
	// AdminToken guards the admin endpoints; ReadToken, when set, the read ones.
	AdminToken, ReadToken string
	// TriggerBatch starts a batch run now and returns its ID (nil: the
	// endpoint answers 503).
	TriggerBatch func(ctx context.Context) (string, error)
	// Monitoring, when set, is mounted at /monitoring/ behind the admin token
	// (the asynq web UI).
	Monitoring http.Handler
	// Status adds what other roles know to /v1/status (the last batch run).
	Status func(ctx context.Context) (map[string]any, error)
	// StreamEnds, when set, gives each partition's stream end (its number of
	// messages), for the speed layer's lag in /v1/status.
	StreamEnds func(ctx context.Context) ([]int64, error)
	// AnswerCache bounds the memoized answers (0: no cache); FreshFor is how
	// long an answer with a speed part is reused.
	AnswerCache int
	FreshFor    time.Duration
	// RequestTimeout bounds the work of one request (default
	// DefaultRequestTimeout): past it the answer is a 503.
	RequestTimeout time.Duration
	// MaxSpeedHours bounds the hours of speed buckets read for one group
	// (default DefaultMaxSpeedHours); MaxSpeedBuckets the buckets read by
	// one request over all its groups (default DefaultMaxSpeedBuckets).
	// Past them the answer is a 400 asking for a narrower range.
	MaxSpeedHours, MaxSpeedBuckets int
	Log                            *slog.Logger
	Reg                            prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultRequestTimeout = 10 * time.Second
	// About the data set's half year: a whole replay can be read before
	// any batch run, one airport at a time (measured, bench/serve/speedcost:
	// ATL over the half year with its destinations ~20 ms, a route ~15 ms).
	DefaultMaxSpeedHours = 190 * 24
	// A top list over ~230 airports reads about 4 days of speed hours (in
	// round trips of a few thousand buckets: memory stays small). On a quiet
	// machine (make bench, 3M events in the speed layer, no batch view) a
	// top list over 7 days (38,472 buckets) took 41-45 ms at the median but
	// 66-68 ms at p99, ~1.2 µs per bucket: 24,000 keeps the worst admitted
	// top list within 50 ms.
	DefaultMaxSpeedBuckets = 24_000
	// topCacheEntries bounds the memoized top lists (each holds every
	// airport's entry, a few tens of KB).
	topCacheEntries = 512
)

// Airport is a row of airports.csv.
type Airport struct {
	IATA, Name, City, State string
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	eng    *engine
	mux    *http.ServeMux
	m      *metrics
	tokens httpx.Tokens
	// flight runs identical concurrent read requests once.
	flight singleflight.Group
	// tops memoizes the top lists, like the cache of the engine the answers.
	tops *answerCache
	// beforeCompute, when set (tests: export_test.go), runs before each
	// computation of a read request's answer, within its deadline.
	beforeCompute func(ctx context.Context, endpoint string)
}

//go:embed web openapi.json
var assets embed.FS

// New returns the server; Handler serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Partitions <= 0 {
		return nil, errors.New("serving: partitions must be positive")
	}
	eng, err := newEngine(cfg.Batch, cfg.Speed, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxSpeedHours <= 0 {
		cfg.MaxSpeedHours = DefaultMaxSpeedHours
	}
	if cfg.MaxSpeedBuckets <= 0 {
		cfg.MaxSpeedBuckets = DefaultMaxSpeedBuckets
	}
	s := &Server{cfg: cfg, eng: eng, mux: http.NewServeMux(), tokens: httpx.Tokens{Admin: cfg.AdminToken, Read: cfg.ReadToken}}
	if cfg.AnswerCache > 0 {
		eng.cache = newAnswerCache(cfg.AnswerCache, cfg.FreshFor)
		s.tops = newAnswerCache(min(cfg.AnswerCache, topCacheEntries), cfg.FreshFor)
	}
	if s.m, err = newMetrics(cfg.Reg); err != nil {
		return nil, err
	}
	s.mux.Handle("GET /v1/airports/{iata}", s.read("airport", s.airport))
	s.mux.Handle("GET /v1/airports/{iata}/hours", s.read("airport_hours", s.airportHours))
	s.mux.Handle("GET /v1/airports", s.read("airports", s.top))
	s.mux.Handle("GET /v1/routes/{origin}/{destination}", s.read("route", s.route))
	s.mux.Handle("GET /v1/status", s.read("status", s.status))
	s.mux.Handle("POST /v1/admin/batch", s.instrument("admin_batch", s.tokens.Require(httpx.AdminLevel, http.HandlerFunc(s.runBatch))))
	s.mux.Handle("/v1/session", s.tokens.Session())
	if cfg.Monitoring != nil {
		s.mux.Handle("/monitoring/", s.tokens.Require(httpx.AdminLevel, cfg.Monitoring))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	openapi, _ := assets.ReadFile("openapi.json")
	s.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi)
	})
	s.mux.HandleFunc("/", s.page)
	return s, nil
}

// Handler returns the server's handler, to be mounted by the caller.
func (s *Server) Handler() http.Handler { return httpx.JSONNotFound(s.mux) }

// page serves the live page and its files; anything else is a JSON 404.
// The page itself holds no data and is open, so that it can ask for the
// read token; opened as /?token=<token>, it keeps a valid token in a cookie
// and sends the browser back to / without it.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	// Method-less, like /monitoring/ (the UI's API takes POST and DELETE): a
	// "GET /" pattern would conflict with it.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+httpx.Quote(r.URL.Path))
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	if _, err := fs.Stat(s.webFS(), name); err != nil {
		httpx.WriteError(w, http.StatusNotFound, "no such path: "+httpx.Quote(r.URL.Path))
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		if !s.tokens.Valid(tok) {
			httpx.WriteError(w, http.StatusUnauthorized, "the token given is not valid")
			return
		}
		httpx.SetCookie(w, r, tok)
		http.Redirect(w, r, httpx.StripToken(r), http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.FileServerFS(s.webFS()).ServeHTTP(w, r)
}

func (s *Server) webFS() fs.FS {
	web, _ := fs.Sub(assets, "web")
	return web
}

// apiError is the body of every error answer.
type apiError = httpx.Error

func writeJSON(w http.ResponseWriter, code int, v any) { httpx.WriteJSON(w, code, v) }

// errDeadline is a request that did not finish within its deadline.
var errDeadline = errors.New("deadline")

// read serves a read endpoint: behind the read token, within the request
// deadline, and run once for identical concurrent requests (same path and
// parameters), whose waiters share the answer.
func (s *Server) read(name string, fn func(*http.Request) (any, error)) http.Handler {
	return s.instrument(name, s.tokens.Require(httpx.ReadLevel, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("token")
		key := name + "\x00" + r.URL.Path + "?" + q.Encode()
		ch := s.flight.DoChan(key, func() (any, error) {
			s.m.computed.WithLabelValues(name).Inc()
			// Not the first caller's context: its leaving must not fail
			// the others. The deadline bounds the work all the same.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.RequestTimeout)
			defer cancel()
			if s.beforeCompute != nil {
				s.beforeCompute(ctx, name)
			}
			v, err := fn(r.WithContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%w: %w", errDeadline, err)
				}
				return nil, err
			}
			b, err := json.Marshal(v)
			return append(b, '\n'), err
		})
		// Counted once it has joined the flight (or started it): a test
		// that sees n requests in flight knows they all have.
		s.m.inFlight.Inc()
		defer s.m.inFlight.Dec()
		select {
		case res := <-ch:
			if res.Shared {
				s.m.shared.WithLabelValues(name).Inc()
			}
			if res.Err != nil {
				s.fail(w, r, res.Err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(res.Val.([]byte))
		case <-r.Context().Done():
			// The client left (or the server's write timeout passed).
		}
	})))
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var br *badRequest
	var qbr *query.BadRequest
	var nf *notFound
	switch {
	case errors.As(err, &br), errors.As(err, &qbr):
		s.m.rejected.WithLabelValues("bad_request").Inc()
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Status: http.StatusBadRequest})
	case errors.As(err, &nf):
		s.m.rejected.WithLabelValues("not_found").Inc()
		writeJSON(w, http.StatusNotFound, apiError{Error: nf.msg, Status: http.StatusNotFound})
	case errors.Is(err, errDeadline):
		s.m.rejected.WithLabelValues("deadline").Inc()
		s.cfg.Log.Warn("request past its deadline", "path", r.URL.Path, "query", httpx.Quote(r.URL.RawQuery), "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: fmt.Sprintf("the query did not finish within %v: narrow from/to, or retry later", s.cfg.RequestTimeout),
			Status: http.StatusServiceUnavailable})
	case errors.Is(err, context.Canceled):
	default:
		s.cfg.Log.Error("request failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error: " + err.Error(), Status: http.StatusInternalServerError})
	}
}

// bounded refuses a plan whose speed part reads more than the limits: the
// hours per group, and the buckets over groups (0: the groups are not known
// yet, check the hours alone).
func (s *Server) bounded(pl plan, groups int) error {
	h := pl.speedHours()
	if h > int64(s.cfg.MaxSpeedHours) || h > int64(s.cfg.MaxSpeedBuckets) {
		return badf("from..to reaches %d hours into the speed layer (%s to %s, past the batch view); a request reads at most %d: give a narrower from/to",
			h, rfc3339(pl.speed.From), rfc3339(pl.speed.To), min(s.cfg.MaxSpeedHours, s.cfg.MaxSpeedBuckets))
	}
	if n := h * int64(groups); n > int64(s.cfg.MaxSpeedBuckets) {
		return badf("from..to reaches %d hours into the speed layer (%s to %s, past the batch view) for %d airports or more: %d hourly buckets or more, and a request reads at most %d: give a narrower from/to",
			h, rfc3339(pl.speed.From), rfc3339(pl.speed.To), groups, n, s.cfg.MaxSpeedBuckets)
	}
	return nil
}

// Delay is the delay part of an answer.
type Delay struct {
	Mean *float64 `json:"mean"`
	P50  *float64 `json:"p50"`
	P95  *float64 `json:"p95"`
	P99  *float64 `json:"p99"`
	Min  *int32   `json:"min"`
	Max  *int32   `json:"max"`
}

// Answer is the answer for an airport or a route.
type Answer struct {
	Airport      string   `json:"airport,omitempty"`
	Origin       string   `json:"origin,omitempty"`
	Destination  string   `json:"destination,omitempty"`
	Name         string   `json:"name,omitempty"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	Flights      int64    `json:"flights"`
	Delay        Delay    `json:"delay"`
	DelayedShare *float64 `json:"delayed_share"`
	Destinations *int64   `json:"destinations,omitempty"`
	Exact        bool     `json:"exact"`
	BatchUntil   *string  `json:"batch_until"`
}

func round(v float64, digits int) *float64 {
	p := math.Pow(10, float64(digits))
	r := math.Round(v*p) / p
	return &r
}

func (s *Server) answer(pl plan, r result) Answer {
	a := Answer{From: rfc3339(pl.whole.From), To: rfc3339(pl.whole.To), Flights: r.Stats.Count, Exact: r.Exact}
	if pl.bv != nil {
		b := rfc3339(pl.boundary)
		a.BatchUntil = &b
	}
	if r.Stats.Count > 0 {
		mn, mx := r.Stats.Min, r.Stats.Max
		a.Delay = Delay{Mean: round(r.Stats.Mean(), 3), Min: &mn, Max: &mx}
		if len(r.Quantiles) == 3 {
			a.Delay.P50, a.Delay.P95, a.Delay.P99 = &r.Quantiles[0], &r.Quantiles[1], &r.Quantiles[2]
		}
		a.DelayedShare = round(r.Stats.DelayedShare(), 4)
	}
	if r.Distinct >= 0 {
		d := r.Distinct
		a.Destinations = &d
	}
	return a
}

// known checks that an airport exists, for a 404 rather than an empty answer.
func (s *Server) known(ctx context.Context, pl plan, code string) (Airport, error) {
	if len(s.cfg.Airports) > 0 {
		a, ok := s.cfg.Airports[code]
		if !ok {
			return Airport{}, &notFound{fmt.Sprintf("airport %s is not known", code)}
		}
		return a, nil
	}
	found := func(set map[string]struct{}) bool { _, ok := set[code]; return ok }
	gs, err := s.eng.groupsOf(ctx, pl, s.eng.airportV, found)
	if err != nil {
		return Airport{}, err
	}
	if _, ok := slices.BinarySearch(gs, code); ok {
		return Airport{IATA: code}, nil
	}
	return Airport{}, &notFound{fmt.Sprintf("airport %s has no flights", code)}
}

// airportQuery reads an airport request: the code, its span planned over the
// views and within the limits, and the airport, which must be known.
func (s *Server) airportQuery(r *http.Request) (string, plan, Airport, error) {
	code, err := query.ParseAirport("airport", r.PathValue("iata"))
	if err != nil {
		return "", plan{}, Airport{}, err
	}
	sp, err := parseSpan(r.URL.Query())
	if err != nil {
		return "", plan{}, Airport{}, err
	}
	pl, err := s.eng.plan(r.Context(), sp)
	if err != nil {
		return "", plan{}, Airport{}, err
	}
	if err := s.bounded(pl, 1); err != nil {
		return "", plan{}, Airport{}, err
	}
	ap, err := s.known(r.Context(), pl, code)
	return code, pl, ap, err
}

func (s *Server) airport(r *http.Request) (any, error) {
	code, pl, ap, err := s.airportQuery(r)
	if err != nil {
		return nil, err
	}
	res, err := s.eng.group(r.Context(), pl, s.eng.airportV, code, true)
	if err != nil {
		return nil, err
	}
	a := s.answer(pl, res)
	a.Airport, a.Name = code, ap.Name
	return a, nil
}

func (s *Server) route(r *http.Request) (any, error) {
	o, err := query.ParseAirport("origin", r.PathValue("origin"))
	if err != nil {
		return nil, err
	}
	d, err := query.ParseAirport("destination", r.PathValue("destination"))
	if err != nil {
		return nil, err
	}
	sp, err := parseSpan(r.URL.Query())
	if err != nil {
		return nil, err
	}
	pl, err := s.eng.plan(r.Context(), sp)
	if err != nil {
		return nil, err
	}
	if err := s.bounded(pl, 1); err != nil {
		return nil, err
	}
	// Without a list of airports, a route between airports without
	// flights is an empty answer, not a 404: nothing to look up.
	for _, c := range []string{o, d} {
		if len(s.cfg.Airports) == 0 {
			break
		}
		if _, err := s.known(r.Context(), pl, c); err != nil {
			return nil, err
		}
	}
	res, err := s.eng.group(r.Context(), pl, s.eng.routeV, s.eng.routeV.Key(&flight.Event{Origin: o, Destination: d}), false)
	if err != nil {
		return nil, err
	}
	a := s.answer(pl, res)
	a.Origin, a.Destination = o, d
	return a, nil
}

// TopEntry is one airport of the top list.
type TopEntry struct {
	Airport      string   `json:"airport"`
	Name         string   `json:"name,omitempty"`
	Flights      int64    `json:"flights"`
	Delay        Delay    `json:"delay"`
	DelayedShare *float64 `json:"delayed_share"`
	Exact        bool     `json:"exact"`
}

// Top is the answer of the top-airports list.
type Top struct {
	By         string     `json:"by"`
	From       string     `json:"from"`
	To         string     `json:"to"`
	BatchUntil *string    `json:"batch_until"`
	Airports   []TopEntry `json:"airports"`
}

func (s *Server) top(r *http.Request) (any, error) {
	by, limit, err := query.ParseTop(r.URL.Query())
	if err != nil {
		return nil, err
	}
	sp, err := parseSpan(r.URL.Query())
	if err != nil {
		return nil, err
	}
	pl, err := s.eng.plan(r.Context(), sp)
	if err != nil {
		return nil, err
	}
	entries, err := s.ranked(r.Context(), pl, by)
	if err != nil {
		return nil, err
	}
	out := Top{By: by, From: rfc3339(pl.whole.From), To: rfc3339(pl.whole.To), Airports: entries[:min(limit, len(entries))]}
	if pl.bv != nil {
		b := rfc3339(pl.boundary)
		out.BatchUntil = &b
	}
	return out, nil
}

// ranked returns every airport with flights over the plan, in the order by,
// memoized like the answers (any limit is a prefix of it).
func (s *Server) ranked(ctx context.Context, pl plan, by string) ([]TopEntry, error) {
	key := pl.key("top:"+by, "")
	if v, ok := s.tops.get(key); ok {
		return v.([]TopEntry), nil
	}
	if err := s.bounded(pl, 0); err != nil {
		return nil, err
	}
	// Listing the groups of a long speed part stops as soon as they are
	// too many for the budget: the 400 costs a few round trips, not one
	// per hour of the speed layer.
	over := func(set map[string]struct{}) bool { return s.bounded(pl, len(set)) != nil }
	groups, err := s.eng.groupsOf(ctx, pl, s.eng.airportV, over)
	if err != nil {
		return nil, err
	}
	if err := s.bounded(pl, len(groups)); err != nil {
		return nil, err
	}
	res, err := s.eng.many(ctx, pl, s.eng.airportV, groups)
	if err != nil {
		return nil, err
	}
	entries := make([]TopEntry, 0, len(groups))
	for i, g := range groups {
		if res[i].Stats.Count == 0 {
			continue
		}
		a := s.answer(pl, res[i])
		entries = append(entries, TopEntry{Airport: g, Name: s.cfg.Airports[g].Name, Flights: a.Flights, Delay: a.Delay, DelayedShare: a.DelayedShare, Exact: a.Exact})
	}
	order := func(e TopEntry) float64 {
		switch by {
		case "delay_p95":
			if e.Delay.P95 == nil {
				return math.Inf(-1)
			}
			return *e.Delay.P95
		case "delayed_share":
			return *e.DelayedShare
		}
		return float64(e.Flights)
	}
	slices.SortStableFunc(entries, func(a, b TopEntry) int {
		if c := cmp.Compare(order(b), order(a)); c != 0 {
			return c
		}
		return strings.Compare(a.Airport, b.Airport)
	})
	s.tops.put(key, entries, !pl.speed.empty())
	return entries, nil
}

// Hour is one hour of an airport's series.
type Hour struct {
	Hour    string   `json:"hour"`
	Flights int64    `json:"flights"`
	Mean    *float64 `json:"mean"`
	P95     *float64 `json:"p95"`
	Exact   bool     `json:"exact"`
}

// maxSeriesHours bounds the hourly series: a month and a day.
const maxSeriesHours = 32 * 24

func (s *Server) airportHours(r *http.Request) (any, error) {
	code, pl, _, err := s.airportQuery(r)
	if err != nil {
		return nil, err
	}
	if n := (pl.whole.To - pl.whole.From) / 3600; n > maxSeriesHours {
		return nil, badf("the hourly series covers at most %d hours; from..to spans %d: narrow it", maxSeriesHours, n)
	}
	hours, err := s.eng.series(r.Context(), pl, code)
	if err != nil {
		return nil, err
	}
	return map[string]any{"airport": code, "from": rfc3339(pl.whole.From), "to": rfc3339(pl.whole.To), "hours": hours}, nil
}

func (s *Server) status(r *http.Request) (any, error) {
	ctx := r.Context()
	out := map[string]any{}
	bv, err := s.cfg.Batch.Current(ctx)
	if err != nil {
		return nil, err
	}
	if bv != nil {
		first, end := bv.Span()
		out["batch"] = map[string]any{"version": bv.Version(), "boundary": rfc3339(bv.Boundary()),
			"published_at": bv.PublishedAt().UTC().Format(time.RFC3339), "first_hour": rfc3339(first), "end_hour": rfc3339(end)}
	} else {
		out["batch"] = nil
	}
	s.eng.mu.Lock()
	s.eng.spanAt = time.Time{} // status always reads fresh
	s.eng.mu.Unlock()
	_, states, err := s.eng.speedState(ctx)
	if err != nil {
		return nil, err
	}
	var ends []int64
	if s.cfg.StreamEnds != nil {
		if ends, err = s.cfg.StreamEnds(ctx); err != nil {
			s.cfg.Log.Warn("stream ends unavailable: /v1/status without lag", "err", err)
			ends = nil
		}
	}
	parts := make([]map[string]any, len(states))
	for p, st := range states {
		pm := map[string]any{"partition": p, "offset": st.Offset, "applied": st.Applied, "late": st.Late,
			"duplicates": st.Duplicates, "quarantined": st.Quarantined}
		if st.MaxTime > 0 {
			pm["max_event_time"] = time.UnixMicro(st.MaxTime).UTC().Format(time.RFC3339)
		}
		if p < len(ends) {
			// Offsets start at 0: a stream of n messages ends at offset n-1.
			pm["lag"] = max(0, ends[p]-1-st.Offset)
		}
		parts[p] = pm
	}
	out["speed"] = map[string]any{"partitions": parts}
	if s.cfg.Status != nil {
		extra, err := s.cfg.Status(ctx)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			out[k] = v
		}
	}
	return out, nil
}

func (s *Server) runBatch(w http.ResponseWriter, r *http.Request) {
	if s.cfg.TriggerBatch == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "this server cannot start batch runs (no scheduler configured)", Status: http.StatusServiceUnavailable})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	id, err := s.cfg.TriggerBatch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", errDeadline, err)
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"graph": id})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "redis: " + err.Error(), Status: http.StatusServiceUnavailable})
		return
	}
	if _, err := s.cfg.Batch.Current(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "batch view: " + err.Error(), Status: http.StatusServiceUnavailable})
		return
	}
	fmt.Fprintln(w, "ready")
}
