package httpx

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// CookieName is the cookie that carries a token for browsers, which cannot
// add an Authorization header to a page load or to a UI's own requests.
const CookieName = "tributary_token"

// Tokens guard a server's endpoints at two levels. A request presents a
// token as "Authorization: Bearer <token>", as the cookie CookieName, or
// once as ?token=<token> (which then sets the cookie).
type Tokens struct {
	// Admin guards the admin level: when empty, admin endpoints are refused
	// (403), never open.
	Admin string
	// Read guards the read level: when empty, reads are open. The admin
	// token is accepted wherever the read token is.
	Read string
}

// Level is what an endpoint needs.
type Level int

// Levels of access.
const (
	ReadLevel Level = iota
	AdminLevel
)

// presented returns the token of a request and whether it came from the
// query string.
func presented(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return t, true
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, false
	}
	return "", false
}

func equal(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Allows reports whether token opens level.
func (t Tokens) Allows(level Level, token string) bool {
	switch level {
	case AdminLevel:
		return equal(token, t.Admin)
	default:
		return t.Read == "" || equal(token, t.Read) || equal(token, t.Admin)
	}
}

// Valid reports whether token is one of the configured tokens.
func (t Tokens) Valid(token string) bool { return equal(token, t.Read) || equal(token, t.Admin) }

// SetCookie keeps token in the browser for the whole site: HttpOnly (no
// script reads it) and SameSite=Strict (no other site's page sends it).
func SetCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// Require serves h only to requests that present a token opening level;
// others get a JSON 401 (403 for an admin level without a configured
// token). A valid ?token= on a GET also sets the cookie, so that a browser
// opening a UI as /path?token=... keeps access to the UI's own requests.
func (t Tokens) Require(level Level, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if level == AdminLevel && t.Admin == "" {
			WriteError(w, http.StatusForbidden, "admin endpoints are disabled: start the server with an admin token (--admin-token)")
			return
		}
		tok, fromQuery := presented(r)
		if !t.Allows(level, tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tributary"`)
			what := "the read token"
			if level == AdminLevel {
				what = "the admin token"
			}
			msg := "this endpoint needs " + what + ": Authorization: Bearer <token>, or open it once in a browser with ?token=<token>"
			if tok != "" {
				msg = "the token given is not valid here: this endpoint needs " + what
			}
			WriteError(w, http.StatusUnauthorized, msg)
			return
		}
		if fromQuery && r.Method == http.MethodGet {
			SetCookie(w, r, tok)
		}
		h.ServeHTTP(w, r)
	})
}

// StripToken returns the URL of r without its token parameter, for a
// redirect that keeps the token out of the address bar and the history.
func StripToken(r *http.Request) string {
	q := r.URL.Query()
	q.Del("token")
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// Session is the handler of a login form: POST with a form field token; a
// valid token is kept in the cookie (204), another is refused (401). DELETE
// forgets the cookie.
func (t Tokens) Session() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			tok := r.PostFormValue("token")
			if !t.Valid(tok) {
				WriteError(w, http.StatusUnauthorized, "the token given is not valid")
				return
			}
			SetCookie(w, r, tok)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "POST, DELETE")
			WriteError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+Quote(r.URL.Path))
		}
	})
}
