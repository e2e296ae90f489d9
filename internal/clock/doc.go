// Package clock owns the time source of long-running loops, so that tests
// drive them step by step: Real is the system clock, Manual moves only when a
// test advances it and fires the tickers whose period elapsed.
package clock
