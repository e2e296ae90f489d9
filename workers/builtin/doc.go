// Package builtin owns the functions every Tributary worker registers: no-op
// and arithmetic functions for tests, benchmarks and smoke checks of a
// deployment (noop, const, sum, sleepsum, flaky, fail). Results are decimal
// integers as text.
package builtin
