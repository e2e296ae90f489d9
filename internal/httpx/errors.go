package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Error is the body of every error answer.
type Error struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// WriteJSON writes v as a JSON answer with code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an Error answer.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, Error{Error: msg, Status: code})
}

// maxQuoted is how much of a bad input an error message repeats: enough to
// recognise it, never enough to echo a 100 KB query back.
const maxQuoted = 40

// Quote quotes s for an error message, cut to its first bytes (on a rune
// boundary) with its full length when it is long.
func Quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:n]), len(s))
}

// JSONNotFound serves mux, answering the requests it has no pattern for
// (404, and 405 for a known path with another method) with a JSON Error
// rather than the mux's plain text.
func JSONNotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's fallback sets the status (and Allow for a 405): keep
		// those, replace its body.
		rec := &statusOnly{header: w.Header()}
		h.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 || code == http.StatusOK {
			code = http.StatusNotFound
		}
		msg := "no such path: " + Quote(r.URL.Path)
		switch code {
		case http.StatusMethodNotAllowed:
			msg = r.Method + " is not allowed on " + Quote(r.URL.Path)
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			// A cleaned path (e.g. //v1 -> /v1): let the client follow.
			w.WriteHeader(code)
			return
		}
		w.Header().Del("Content-Length")
		WriteError(w, code, msg)
	})
}

// statusOnly records a status and drops the body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}
