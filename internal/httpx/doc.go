// Package httpx holds what every Tributary HTTP server shares: an
// http.Server with read, write and idle timeouts and a header size limit,
// JSON error bodies (unknown paths included), bearer/cookie token checks
// that also work from a browser, and the short quoting of bad input in
// error messages.
package httpx
