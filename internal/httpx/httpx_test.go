package httpx_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/httpx"
)

func TestQuoteIsShort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ATL", `"ATL"`},
		{strings.Repeat("x", 40), `"` + strings.Repeat("x", 40) + `"`},
		{strings.Repeat("x", 100_000), `"` + strings.Repeat("x", 40) + `"… (100000 bytes)`},
		// Cut on a rune boundary: é is 2 bytes, the 41st byte starts none.
		{"a" + strings.Repeat("é", 30), `"a` + strings.Repeat("é", 19) + `"… (61 bytes)`},
	}
	for _, tt := range tests {
		if got := httpx.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%.50q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// call serves one request and decodes the JSON error, if any.
func call(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*http.Response, httpx.Error) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	var e httpx.Error
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: %d with Content-Type %q, want JSON", method, target, resp.StatusCode, ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Status != resp.StatusCode {
			t.Fatalf("%s %s: body %+v, %v", method, target, e, err)
		}
	}
	return resp, e
}

func TestJSONNotFound(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	h := httpx.JSONNotFound(mux)
	if resp, _ := call(t, h, "GET", "/v1/things", nil); resp.StatusCode != 200 {
		t.Fatalf("known path: %d", resp.StatusCode)
	}
	_, e := call(t, h, "GET", "/nope", nil)
	if e.Status != 404 || !strings.Contains(e.Error, `"/nope"`) {
		t.Fatalf("unknown path: %+v", e)
	}
	resp, e := call(t, h, "POST", "/v1/things", nil)
	if e.Status != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("wrong method: %+v, Allow %q", e, resp.Header.Get("Allow"))
	}
	_, e = call(t, h, "GET", "/"+strings.Repeat("a", 100_000), nil)
	if e.Status != 404 || len(e.Error) > 200 {
		t.Fatalf("a long unknown path is quoted whole: %d bytes", len(e.Error))
	}
}

func TestTokens(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	tok := httpx.Tokens{Admin: "adm1n", Read: "r3ad"}
	read, admin := tok.Require(httpx.ReadLevel, ok), tok.Require(httpx.AdminLevel, ok)
	tests := []struct {
		name    string
		h       http.Handler
		target  string
		hdr     map[string]string
		code    int
		cookies bool
	}{
		{"read without token", read, "/", nil, 401, false},
		{"read with wrong token", read, "/", map[string]string{"Authorization": "Bearer nope"}, 401, false},
		{"read with read token", read, "/", map[string]string{"Authorization": "Bearer r3ad"}, 200, false},
		{"read with admin token", read, "/", map[string]string{"Authorization": "Bearer adm1n"}, 200, false},
		{"read with cookie", read, "/", map[string]string{"Cookie": httpx.CookieName + "=r3ad"}, 200, false},
		{"read with ?token sets the cookie", read, "/?token=r3ad", nil, 200, true},
		{"admin with read token", admin, "/", map[string]string{"Authorization": "Bearer r3ad"}, 401, false},
		{"admin with admin cookie", admin, "/", map[string]string{"Cookie": httpx.CookieName + "=adm1n"}, 200, false},
		{"admin with empty bearer", admin, "/", map[string]string{"Authorization": "Bearer "}, 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, e := call(t, tt.h, "GET", tt.target, tt.hdr)
			if resp.StatusCode != tt.code {
				t.Fatalf("%d %+v, want %d", resp.StatusCode, e, tt.code)
			}
			if got := len(resp.Cookies()) > 0; got != tt.cookies {
				t.Fatalf("cookies %v, want %v", resp.Cookies(), tt.cookies)
			}
			for _, c := range resp.Cookies() {
				if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
					t.Fatalf("cookie %+v is not HttpOnly, SameSite=Strict, Path=/", c)
				}
			}
		})
	}
	// No admin token: admin endpoints are refused, reads open.
	open := httpx.Tokens{}
	if resp, _ := call(t, open.Require(httpx.AdminLevel, ok), "GET", "/", map[string]string{"Authorization": "Bearer "}); resp.StatusCode != 403 {
		t.Fatalf("admin without a configured token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := call(t, open.Require(httpx.ReadLevel, ok), "GET", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("open reads: %d", resp.StatusCode)
	}
}

func TestSession(t *testing.T) {
	h := httpx.Tokens{Read: "r3ad"}.Session()
	for _, c := range []struct {
		token string
		code  int
	}{{"r3ad", 204}, {"nope", 401}, {"", 401}} {
		req := httptest.NewRequest("POST", "/v1/session", strings.NewReader(url.Values{"token": {c.token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code || (c.code == 204) != (len(rec.Result().Cookies()) == 1) {
			t.Fatalf("session with %q: %d, cookies %v", c.token, rec.Code, rec.Result().Cookies())
		}
	}
}

// TestServerLimits runs a real server: an oversized header is refused, an
// idle keep-alive connection is closed.
func TestServerLimits(t *testing.T) {
	srv := httpx.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		httpx.Limits{Idle: 300 * time.Millisecond})
	if srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.ReadHeaderTimeout == 0 || srv.MaxHeaderBytes != httpx.DefaultMaxHeaderBytes {
		t.Fatalf("limits not set: %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, srv, ln, time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + ln.Addr().String()
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 2*httpx.DefaultMaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized header: %d, want 431", resp.StatusCode)
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	// The server closes the idle connection: the read ends (EOF), well
	// before this generous deadline.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: %v, want EOF (closed by the server)", err)
	}
}
