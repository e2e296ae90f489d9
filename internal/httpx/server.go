package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Limits are a server's timeouts and header size limit; a zero field takes
// its default.
type Limits struct {
	// ReadHeader bounds the reading of a request's headers; Read the whole
	// request, body included.
	ReadHeader, Read time.Duration
	// Write bounds the time from the end of the request's headers to the end
	// of the answer: it must exceed the slowest handler.
	Write time.Duration
	// Idle is how long a keep-alive connection waits for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// Defaults of Limits, for small JSON APIs.
const (
	DefaultReadHeader     = 5 * time.Second
	DefaultRead           = 30 * time.Second
	DefaultWrite          = 60 * time.Second
	DefaultIdle           = 60 * time.Second
	DefaultMaxHeaderBytes = 16 << 10
)

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ReadHeader, DefaultReadHeader)
	def(&l.Read, DefaultRead)
	def(&l.Write, DefaultWrite)
	def(&l.Idle, DefaultIdle)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// NewServer returns an http.Server for h with every timeout and the header
// limit set: Go's zero values wait forever, so a slow or idle client would
// hold a connection and its goroutine for good.
func NewServer(h http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read, WriteTimeout: l.Write,
		IdleTimeout: l.Idle, MaxHeaderBytes: l.MaxHeaderBytes}
}

// Serve serves srv on ln until ctx is done, then shuts it down, giving open
// requests up to grace to finish. It returns once the listener is closed.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		// Derived from ctx for its values, not its cancellation (see
		// docs/conventions.md).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	}
	return nil
}
