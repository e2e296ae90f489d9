package serving

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	rejected *prometheus.CounterVec
	shared   *prometheus.CounterVec
	computed *prometheus.CounterVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_serve_requests_total", Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tributary_serve_request_duration_seconds", Help: "Time to answer a request, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"endpoint"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_serve_rejected_requests_total", Help: "Requests refused for bad parameters, unknown names or a passed deadline."}, []string{"reason"}),
		shared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_serve_shared_answers_total", Help: "Requests answered by an identical concurrent request's work (single-flight)."}, []string{"endpoint"}),
		computed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_serve_computations_total",
			Help: "Answers computed by read requests (identical concurrent requests share one), by endpoint."}, []string{"endpoint"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_serve_requests_in_flight", Help: "Read requests waiting for their answer."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.latency, m.rejected, m.shared, m.computed, m.inFlight} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) instrument(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.m.latency.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		s.m.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
	})
}
