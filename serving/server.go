package serving

import (
	"cmp"
	"context"
	"crypto/subtle"
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

	"github.com/tributary-dev/tributary/flight"
)

// Config of the HTTP server.
type Config struct {
	Batch      BatchSource
	Speed      SpeedSource
	Redis      *redis.Client
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
	Log         *slog.Logger
	Reg         prometheus.Registerer
}

// Airport is a row of airports.csv.
type Airport struct {
	IATA, Name, City, State string
}

// Server is the HTTP API.
type Server struct {
	cfg Config
	eng *engine
	mux *http.ServeMux
	m   *metrics
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
	if cfg.AnswerCache > 0 {
		eng.cache = newAnswerCache(cfg.AnswerCache, cfg.FreshFor)
	}
	m, err := newMetrics(cfg.Reg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, eng: eng, mux: http.NewServeMux(), m: m}
	read := func(name string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
		return s.instrument(name, s.guard(cfg.ReadToken, h))
	}
	s.mux.Handle("GET /v1/airports/{iata}", read("airport", s.airport))
	s.mux.Handle("GET /v1/airports/{iata}/hours", read("airport_hours", s.airportHours))
	s.mux.Handle("GET /v1/airports", read("airports", s.top))
	s.mux.Handle("GET /v1/routes/{origin}/{destination}", read("route", s.route))
	s.mux.Handle("GET /v1/status", read("status", s.status))
	s.mux.Handle("POST /v1/admin/batch", s.instrument("admin_batch", s.admin(s.guard(cfg.AdminToken, s.runBatch))))
	if cfg.Monitoring != nil {
		s.mux.Handle("/monitoring/", s.admin(s.guardHandler(cfg.AdminToken, cfg.Monitoring)))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	openapi, _ := assets.ReadFile("openapi.json")
	s.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi)
	})
	web, _ := fs.Sub(assets, "web")
	// Method-less, like /monitoring/ (the UI's API takes POST and DELETE): a
	// "GET /" pattern would conflict with it.
	files := http.FileServerFS(web)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusMethodNotAllowed, apiError{r.Method + " is not allowed here", http.StatusMethodNotAllowed})
			return
		}
		files.ServeHTTP(w, r)
	})
	return s, nil
}

// Handler returns the server's handler, to be mounted by the caller.
func (s *Server) Handler() http.Handler { return s.mux }

// apiError is the body of every error answer.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// admin refuses everything when no admin token is configured: an admin
// endpoint is never open.
func (s *Server) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			writeJSON(w, http.StatusForbidden, apiError{"admin endpoints are disabled: start the server with an admin token (--admin-token)", http.StatusForbidden})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// guard requires a bearer token when token is set.
func (s *Server) guard(token string, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !authorized(token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tributary"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"this endpoint needs the token: Authorization: Bearer <token>", http.StatusUnauthorized})
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

func (s *Server) guardHandler(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(token, r) {
			// Browsers cannot send a bearer header to a UI: accept ?token= once and keep it in a cookie.
			w.Header().Set("WWW-Authenticate", `Bearer realm="tributary"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"the monitoring UI needs the admin token: open /monitoring/?token=<token>", http.StatusUnauthorized})
			return
		}
		if t := r.URL.Query().Get("token"); t != "" {
			http.SetCookie(w, &http.Cookie{Name: "tributary_token", Value: t, Path: "/monitoring", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		}
		h.ServeHTTP(w, r)
	})
}

func authorized(token string, r *http.Request) bool {
	if token == "" {
		return true
	}
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	if got == "" {
		if c, err := r.Cookie("tributary_token"); err == nil {
			got = c.Value
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var br *badRequest
	var nf *notFound
	switch {
	case errors.As(err, &br):
		s.m.rejected.WithLabelValues("bad_request").Inc()
		writeJSON(w, http.StatusBadRequest, apiError{br.msg, http.StatusBadRequest})
	case errors.As(err, &nf):
		s.m.rejected.WithLabelValues("not_found").Inc()
		writeJSON(w, http.StatusNotFound, apiError{nf.msg, http.StatusNotFound})
	case errors.Is(err, context.Canceled):
	default:
		s.cfg.Log.Error("request failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{"internal error: " + err.Error(), http.StatusInternalServerError})
	}
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
	gs, err := s.eng.groupsOf(ctx, pl, s.eng.airportV)
	if err != nil {
		return Airport{}, err
	}
	for _, g := range gs {
		if g == code {
			return Airport{IATA: code}, nil
		}
	}
	return Airport{}, &notFound{fmt.Sprintf("airport %s has no flights", code)}
}

// airportQuery reads an airport request: the code, its span planned over the
// views, and the airport, which must be known.
func (s *Server) airportQuery(r *http.Request) (string, plan, Airport, error) {
	code, err := parseAirport("airport", r.PathValue("iata"))
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
	ap, err := s.known(r.Context(), pl, code)
	return code, pl, ap, err
}

func (s *Server) airport(w http.ResponseWriter, r *http.Request) error {
	code, pl, ap, err := s.airportQuery(r)
	if err != nil {
		return err
	}
	res, err := s.eng.group(r.Context(), pl, s.eng.airportV, code, true)
	if err != nil {
		return err
	}
	a := s.answer(pl, res)
	a.Airport, a.Name = code, ap.Name
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	o, err := parseAirport("origin", r.PathValue("origin"))
	if err != nil {
		return err
	}
	d, err := parseAirport("destination", r.PathValue("destination"))
	if err != nil {
		return err
	}
	sp, err := parseSpan(r.URL.Query())
	if err != nil {
		return err
	}
	pl, err := s.eng.plan(r.Context(), sp)
	if err != nil {
		return err
	}
	for _, c := range []string{o, d} {
		if _, err := s.known(r.Context(), pl, c); err != nil && len(s.cfg.Airports) > 0 {
			return err
		}
	}
	res, err := s.eng.group(r.Context(), pl, s.eng.routeV, s.eng.routeV.Key(&flight.Event{Origin: o, Destination: d}), false)
	if err != nil {
		return err
	}
	a := s.answer(pl, res)
	a.Origin, a.Destination = o, d
	writeJSON(w, http.StatusOK, a)
	return nil
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

func (s *Server) top(w http.ResponseWriter, r *http.Request) error {
	by, limit, err := parseTop(r.URL.Query())
	if err != nil {
		return err
	}
	sp, err := parseSpan(r.URL.Query())
	if err != nil {
		return err
	}
	pl, err := s.eng.plan(r.Context(), sp)
	if err != nil {
		return err
	}
	groups, err := s.eng.groupsOf(r.Context(), pl, s.eng.airportV)
	if err != nil {
		return err
	}
	res, err := s.eng.many(r.Context(), pl, s.eng.airportV, groups)
	if err != nil {
		return err
	}
	entries := make([]TopEntry, 0, len(groups))
	for i, g := range groups {
		if res[i].Stats.Count == 0 {
			continue
		}
		a := s.answer(pl, res[i])
		entries = append(entries, TopEntry{Airport: g, Name: s.cfg.Airports[g].Name, Flights: a.Flights, Delay: a.Delay, DelayedShare: a.DelayedShare, Exact: a.Exact})
	}
	key := func(e TopEntry) float64 {
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
		if c := cmp.Compare(key(b), key(a)); c != 0 {
			return c
		}
		return strings.Compare(a.Airport, b.Airport)
	})
	if len(entries) > limit {
		entries = entries[:limit]
	}
	out := Top{By: by, From: rfc3339(pl.whole.From), To: rfc3339(pl.whole.To), Airports: entries}
	if pl.bv != nil {
		b := rfc3339(pl.boundary)
		out.BatchUntil = &b
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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

func (s *Server) airportHours(w http.ResponseWriter, r *http.Request) error {
	code, pl, _, err := s.airportQuery(r)
	if err != nil {
		return err
	}
	if n := (pl.whole.To - pl.whole.From) / 3600; n > maxSeriesHours {
		return badf("the hourly series covers at most %d hours; from..to spans %d: narrow it", maxSeriesHours, n)
	}
	hours, err := s.eng.series(r.Context(), pl, code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"airport": code, "from": rfc3339(pl.whole.From), "to": rfc3339(pl.whole.To), "hours": hours})
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	out := map[string]any{}
	bv, err := s.cfg.Batch.Current(ctx)
	if err != nil {
		return err
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
		return err
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
			return err
		}
		for k, v := range extra {
			out[k] = v
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) runBatch(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.TriggerBatch == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"this server cannot start batch runs (no scheduler configured)", http.StatusServiceUnavailable})
		return nil
	}
	id, err := s.cfg.TriggerBatch(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"graph": id})
	return nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"redis: " + err.Error(), http.StatusServiceUnavailable})
		return
	}
	if _, err := s.cfg.Batch.Current(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"batch view: " + err.Error(), http.StatusServiceUnavailable})
		return
	}
	fmt.Fprintln(w, "ready")
}
