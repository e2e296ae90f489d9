package obs

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tributary-dev/tributary/internal/httpx"
)

// NewRegistry returns a registry with the Go runtime and process collectors,
// so that every Tributary process exports them.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsServer serves /metrics, /healthz and anything added to Mux.
type MetricsServer struct {
	Mux  *http.ServeMux
	addr string
	log  *slog.Logger
}

// NewMetricsServer returns a server for addr (host:port; "" disables it).
func NewMetricsServer(addr string, reg *prometheus.Registry, log *slog.Logger) *MetricsServer {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return &MetricsServer{Mux: mux, addr: addr, log: log}
}

// Run serves until ctx is done. It returns once the listener is closed.
func (s *MetricsServer) Run(ctx context.Context) error {
	if s.addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	s.log.Info("metrics served", "addr", "http://"+ln.Addr().String()+"/metrics")
	srv := httpx.NewServer(httpx.JSONNotFound(s.Mux), httpx.Limits{})
	if err := httpx.Serve(ctx, srv, ln, 2*time.Second); err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
