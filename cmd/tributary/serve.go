package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"

	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/httpx"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/serving"
	"github.com/tributary-dev/tributary/speed/store"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		addr, airports, schedulerURL string
		adminToken, readToken        string
		recheck, freshFor, timeout   time.Duration
		monitoring                   bool
		cacheSize                    int
		maxHours, maxBuckets         int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Answer HTTP queries merging the batch view with the speed views; the live page at /",
		Long: `Serve answers JSON queries over HTTP (see /openapi.json) by merging the exact
batch view, for the hours before its boundary, with the speed views for the
hours after it, and serves the live page at /, /metrics, /healthz, /readyz.
Admin endpoints (POST /v1/admin/batch, the asynq web UI at /monitoring/) need
--admin-token; read endpoints are open unless --read-token is set. A token is
sent as "Authorization: Bearer <token>"; a browser opens the page (or
/monitoring/) once as /?token=<token>, or types it in the page's prompt, and
keeps it in a cookie.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, ropt, err := redisconn.Open(ctx, g.redisURL, 0)
			if err != nil {
				return err
			}
			defer rdb.Close()
			reg := obs.NewRegistry()
			cfg := serving.Config{
				Batch: serving.NewBatchCache(rdb, g.keyPrefix, recheck), Speed: store.NewReader(rdb, g.keyPrefix, g.streams.Partitions),
				Redis: rdb, KeyPrefix: g.keyPrefix, Partitions: g.streams.Partitions,
				AdminToken: adminToken, ReadToken: readToken, Log: g.log, Reg: reg, AnswerCache: cacheSize, FreshFor: freshFor,
				RequestTimeout: timeout, MaxSpeedHours: maxHours, MaxSpeedBuckets: maxBuckets,
			}
			if airports != "" {
				if cfg.Airports, err = serving.LoadAirports(airports); err != nil {
					return err
				}
			}
			if schedulerURL != "" {
				// The scheduler shares the admin token (its --admin-token).
				cfg.TriggerBatch = triggerBatch(client.New(schedulerURL).WithToken(adminToken), rdb, g.keyPrefix)
			}
			if monitoring {
				mon, err := newMonitoring(adminToken, ropt)
				if err != nil {
					return err
				}
				defer mon.Close()
				cfg.Monitoring = mon
			}
			cfg.Status = statusOf(rdb, g.keyPrefix)
			ends := &streamEnds{url: g.amqpURL, streams: g.streams}
			defer ends.close()
			cfg.StreamEnds = ends.get
			srv, err := serving.New(cfg)
			if err != nil {
				return err
			}
			// Writing may take as long as the slowest request, and a little more.
			return serveHTTP(ctx, addr, withMetrics(srv.Handler(), reg, g.log), timeout+5*time.Second, g.log.With("monitoring", monitoring))
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "http-addr", "127.0.0.1:8080", "address of the API, the page, /metrics, /healthz, /readyz")
	f.StringVar(&airports, "airports", "data/airports.csv", "airports.csv: known IATA codes and names (empty: an airport is known when it has flights)")
	f.StringVar(&schedulerURL, "scheduler-url", "http://127.0.0.1:8090", "the scheduler's HTTP API, or a comma-separated list of its replicas, for POST /v1/admin/batch (empty: disabled)")
	f.StringVar(&adminToken, "admin-token", "", "bearer token of the admin endpoints (empty: they are disabled)")
	f.StringVar(&readToken, "read-token", "", "bearer token of the read endpoints (empty: open)")
	f.DurationVar(&recheck, "batch-recheck", 500*time.Millisecond, "how often the current batch version is looked up")
	f.BoolVar(&monitoring, "monitoring", false, "mount the asynq web UI at /monitoring/ (needs --admin-token)")
	f.IntVar(&cacheSize, "answer-cache", 50000, "answers memoized: over batch hours until the version changes, with speed hours for --fresh-for (0: none)")
	f.DurationVar(&timeout, "request-timeout", serving.DefaultRequestTimeout, "deadline of one request's work: past it the answer is a 503")
	f.IntVar(&maxHours, "max-speed-hours", serving.DefaultMaxSpeedHours, "hours of speed buckets one request reads per airport or route (past them: a 400); the default, the data set's half year, reads in ~20 ms")
	f.IntVar(&maxBuckets, "max-speed-buckets", serving.DefaultMaxSpeedBuckets, "speed buckets one request reads over all its airports (past them: a 400); ~1.2 µs each: the default, ~4 days of a top list, reads within ~30 ms")
	f.DurationVar(&freshFor, "fresh-for", 500*time.Millisecond, "how long an answer with a speed part is reused (the speed layer's flush interval is a good value)")
	return cmd
}

// withMetrics serves the registry's /metrics beside the API, on one port.
func withMetrics(api http.Handler, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", obs.NewMetricsServer("", reg, log).Mux)
	mux.Handle("/", api)
	return mux
}

// newMonitoring is the asynq web UI, which can cancel and delete tasks: it is
// mounted only behind the admin token.
func newMonitoring(adminToken string, ropt *redisconn.Options) (*asynqmon.HTTPHandler, error) {
	if adminToken == "" {
		return nil, errors.New("--monitoring needs --admin-token: the asynq web UI can cancel and delete tasks")
	}
	return asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: ropt.Asynq()}), nil
}

// statusOf is /v1/status's batch-layer part.
func statusOf(rdb redis.Cmdable, keyPrefix string) func(context.Context) (map[string]any, error) {
	return func(ctx context.Context) (map[string]any, error) {
		b, err := batchStatus(ctx, rdb, keyPrefix)
		return map[string]any{"batch_layer": b}, err
	}
}

// triggerBatch returns the admin endpoint's action: submit a recompute to
// the scheduler and return its graph ID.
func triggerBatch(sc recompute.Submitter, rdb redis.Cmdable, keyPrefix string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, res, err := recompute.Submit(ctx, sc, rdb, recompute.Options{KeyPrefix: keyPrefix})
		if err != nil {
			return "", err
		}
		return res.ID, nil
	}
}

// serveHTTP serves h on addr until ctx is done, then shuts the server down,
// giving the requests in flight 3 s to finish. write bounds the writing of
// an answer (httpx.Limits.Write).
func serveHTTP(ctx context.Context, addr string, h http.Handler, write time.Duration, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	log.Info("serving", "page", base+"/", "api", base+"/v1/", "openapi", base+"/openapi.json")
	return httpx.Serve(ctx, httpx.NewServer(h, httpx.Limits{Write: write}), ln, 3*time.Second)
}

// streamEnds reads the stream queues' ends over one AMQP connection, opened
// on first use and again after a failure.
type streamEnds struct {
	url     string
	streams topology.Streams
	mu      sync.Mutex
	conn    *amqp.Connection
	ch      *amqp.Channel
}

func (s *streamEnds) get(context.Context) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil || s.ch.IsClosed() {
		s.close()
		d, err := amqpconn.New(s.url, "tributary-serve", nil)
		if err != nil {
			return nil, err
		}
		conn, _, err := d.DialOnce()
		if err != nil {
			return nil, fmt.Errorf("connect to RabbitMQ: %w", err)
		}
		ch, err := conn.Channel()
		if err != nil {
			conn.Close()
			return nil, err
		}
		s.conn, s.ch = conn, ch
	}
	ends := make([]int64, s.streams.Partitions)
	for p := range ends {
		n, err := stream.End(s.ch, s.streams.Queue(p))
		if err != nil {
			s.close()
			return nil, err
		}
		ends[p] = n
	}
	return ends, nil
}

func (s *streamEnds) close() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.ch = nil, nil
}
