package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Client talks to the scheduler replicas: any replica answers the API (a
// standby forwards nothing; every replica reads and writes the same Redis).
type Client struct {
	bases []string
	cur   atomic.Int64 // index of the replica that answered last
	http  *http.Client
	// Patience is how long a request keeps trying the replicas in turn when
	// none answers (default 30s): long enough for a standby to take over.
	Patience time.Duration
	token    string
}

// New returns a client of the scheduler at base (e.g. http://127.0.0.1:8090),
// or of the replicas of a comma-separated list of base URLs. A replica that
// does not answer is skipped for the next one.
func New(base string) *Client {
	c := &Client{http: &http.Client{Timeout: 5 * time.Minute}, Patience: 30 * time.Second}
	for _, b := range strings.Split(base, ",") {
		if b = strings.TrimRight(strings.TrimSpace(b), "/"); b != "" {
			c.bases = append(c.bases, b)
		}
	}
	if len(c.bases) == 0 {
		c.bases = []string{""}
	}
	return c
}

// WithToken makes c send token as a bearer token (the scheduler's
// --admin-token; "" sends none) and returns c. Set it before any request.
func (c *Client) WithToken(token string) *Client {
	c.token = token
	return c
}

// Submit submits g; see scheduler.Scheduler.Submit.
func (c *Client) Submit(ctx context.Context, g *graph.Graph) (*scheduler.Submitted, error) {
	body, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode graph: %w", err)
	}
	var res scheduler.Submitted
	if err := c.do(ctx, http.MethodPost, "/v1/graphs", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Status returns graph id's progress.
func (c *Client) Status(ctx context.Context, id string) (*scheduler.Status, error) {
	var st scheduler.Status
	if err := c.do(ctx, http.MethodGet, "/v1/graphs/"+url.PathEscape(id), nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Tasks returns the state of every task of graph id.
func (c *Client) Tasks(ctx context.Context, id string) (map[string]string, error) {
	var m map[string]string
	if err := c.do(ctx, http.MethodGet, "/v1/graphs/"+url.PathEscape(id)+"/tasks", nil, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Cancel stops graph id; it reports whether the graph was still running.
func (c *Client) Cancel(ctx context.Context, id string) (bool, error) {
	var m map[string]bool
	if err := c.do(ctx, http.MethodPost, "/v1/graphs/"+url.PathEscape(id)+"/cancel", nil, &m); err != nil {
		return false, err
	}
	return m["cancelled"], nil
}

// Wait polls graph id every interval until it is final; progress may be nil.
func (c *Client) Wait(ctx context.Context, id string, every time.Duration, progress func(*scheduler.Status)) (*scheduler.Status, error) {
	return scheduler.Wait(ctx, c.Status, id, every, progress)
}

// Result returns the stored result of task key.
func (c *Client) Result(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	if err := c.do(ctx, http.MethodGet, "/v1/results/"+url.PathEscape(key), nil, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// Leader returns the leader's ID and whether the replica answering leads.
func (c *Client) Leader(ctx context.Context) (leader string, self string, isLeader bool, err error) {
	var m struct {
		Leader   string `json:"leader"`
		Self     string `json:"self"`
		IsLeader bool   `json:"is_leader"`
	}
	err = c.do(ctx, http.MethodGet, "/v1/leader", nil, &m)
	return m.Leader, m.Self, m.IsLeader, err
}

// do sends a request and decodes the JSON reply into out (raw bytes when out
// is *[]byte), mapping error replies back to the sentinel errors.
//
// When a replica cannot be reached, the request goes to the next one, round
// after round with backoff, for up to Patience: a GET after any transport
// error or a 502/503/504, a POST only when the connection was refused (the
// request was then never received, so sending it elsewhere cannot apply it
// twice).
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	deadline := time.Now().Add(c.Patience)
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		i := int(c.cur.Load()) % len(c.bases)
		err := c.doOne(ctx, c.bases[i], method, path, body, out)
		if err == nil || !c.failover(method, err) || ctx.Err() != nil {
			return err
		}
		c.cur.CompareAndSwap(int64(i), int64((i+1)%len(c.bases)))
		if (attempt+1)%len(c.bases) != 0 {
			continue // try the next replica at once
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// unavailable is a reply of a replica that cannot serve now.
type unavailable struct{ status string }

func (u *unavailable) Error() string { return "scheduler unavailable: " + u.status }

// failover says whether err allows sending the request to another replica.
func (c *Client) failover(method string, err error) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return false
	}
	var un *unavailable
	if errors.As(err, &un) {
		return method == http.MethodGet
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var ue *url.Error
	return method == http.MethodGet && errors.As(err, &ue)
}

func (c *Client) doOne(ctx context.Context, base, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("scheduler %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("scheduler %s %s: %w", method, path, err)
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fmt.Errorf("scheduler %s %s: %w", method, path, &unavailable{resp.Status})
	}
	if resp.StatusCode >= 300 {
		var eb scheduler.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			return fmt.Errorf("scheduler %s %s: %s", method, path, resp.Status)
		}
		var kind error
		switch eb.Kind {
		case "invalid":
			kind = graph.ErrInvalid
		case "not_found":
			kind = scheduler.ErrNotFound
		case "no_result":
			kind = scheduler.ErrNoResult
		default:
			return fmt.Errorf("scheduler: %s", eb.Error)
		}
		return &RemoteError{Msg: eb.Error, Kind: kind}
	}
	if b, ok := out.(*[]byte); ok {
		*b = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("scheduler %s %s: decode reply: %w", method, path, err)
	}
	return nil
}

// RemoteError is an error reported by the scheduler; errors.Is matches its
// kind (graph.ErrInvalid, scheduler.ErrNotFound, scheduler.ErrNoResult).
type RemoteError struct {
	Msg  string
	Kind error
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the kind.
func (e *RemoteError) Unwrap() error { return e.Kind }
