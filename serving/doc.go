// Package serving owns Tributary's serving layer: the HTTP API that answers
// queries over the views by merging the batch view (exact, for the hours
// before the batch boundary) with the speed views (fresh, for the hours
// after it), the live page embedded in the binary, and the admin endpoints.
//
// A month-long query costs no Redis round trip for its batch part: the
// published batch view is immutable, so the server loads each version once
// into memory and answers from there. The speed part, the few hours past
// the boundary, is read in one pipelined round trip.
package serving
