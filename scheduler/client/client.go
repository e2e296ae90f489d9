package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Client talks to a scheduler replica.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the scheduler at base (e.g. http://127.0.0.1:8090).
func New(base string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 5 * time.Minute}}
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
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
