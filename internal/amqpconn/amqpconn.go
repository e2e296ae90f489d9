package amqpconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Split parses a comma-separated list of AMQP URLs, dropping blanks.
func Split(list string) []string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Redact returns the URL's host and vhost without credentials, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.EscapedPath()
}

// Dialer dials the first node of URLs that answers. It is safe for
// concurrent use.
type Dialer struct {
	// URLs are the nodes in order of preference.
	URLs []string
	// Name is the connection name shown by the broker (connection_name).
	Name string
	// Heartbeat is the AMQP heartbeat (default 5s): a dead or frozen node
	// is noticed within about twice that.
	Heartbeat time.Duration
	// ConnectTimeout bounds one node's TCP and AMQP handshake (default 3s),
	// so that a frozen node does not hold up the others.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between two rounds over the
	// list (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger

	mu   sync.Mutex
	next int // the node tried first by the next round
}

// New returns a Dialer of a comma-separated URL list.
func New(list, name string, log *slog.Logger) (*Dialer, error) {
	urls := Split(list)
	if len(urls) == 0 {
		return nil, errors.New("amqp: no broker URL")
	}
	for _, u := range urls {
		if _, err := amqp.ParseURI(u); err != nil {
			return nil, fmt.Errorf("amqp URL %s: %w", Redact(u), err)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Dialer{URLs: urls, Name: name, Log: log}, nil
}

// DialOnce tries every node once, starting after the last one that failed,
// and returns the first connection made with the URL it used.
func (d *Dialer) DialOnce() (*amqp.Connection, string, error) {
	d.mu.Lock()
	start := d.next
	d.mu.Unlock()
	hb, timeout := d.Heartbeat, d.ConnectTimeout
	if hb <= 0 {
		hb = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	var errs []error
	for i := range d.URLs {
		k := (start + i) % len(d.URLs)
		u := d.URLs[k]
		props := amqp.NewConnectionProperties()
		if d.Name != "" {
			props.SetClientConnectionName(d.Name)
		}
		// DefaultDial bounds the TCP and AMQP handshake: a frozen node
		// must not hold up the others.
		conn, err := amqp.DialConfig(u, amqp.Config{Properties: props, Heartbeat: hb, Locale: "en_US", Dial: amqp.DefaultDial(timeout)})
		if err == nil {
			d.mu.Lock()
			d.next = k
			d.mu.Unlock()
			return conn, u, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", Redact(u), err))
	}
	d.mu.Lock()
	d.next = (start + 1) % len(d.URLs)
	d.mu.Unlock()
	return nil, "", fmt.Errorf("no broker node answers: %w", errors.Join(errs...))
}

// Failed tells the Dialer that the node of url failed: the next round starts
// with the node after it.
func (d *Dialer) Failed(url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, u := range d.URLs {
		if u == url {
			d.next = (i + 1) % len(d.URLs)
		}
	}
}

// Dial retries DialOnce with backoff until a node answers or ctx ends.
func (d *Dialer) Dial(ctx context.Context) (*amqp.Connection, string, error) {
	lo, hi := d.MinBackoff, d.MaxBackoff
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	backoff := lo
	for attempt := 1; ; attempt++ {
		conn, u, err := d.DialOnce()
		if err == nil {
			if attempt > 1 {
				d.Log.Info("connected to a broker node", "node", Redact(u), "attempts", attempt)
			}
			return conn, u, nil
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		d.Log.Warn("broker unreachable, retrying", "attempt", attempt, "in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", fmt.Errorf("dial broker: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, hi)
	}
}
