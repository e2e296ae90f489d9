// Package layering holds the test that keeps the layers apart: the batch and
// speed layers do not import each other (they meet in the domain, package
// flight, and in ingest/), and serving reads each layer only through the
// reader package that layer exports. It has no code: only its test.
package layering
