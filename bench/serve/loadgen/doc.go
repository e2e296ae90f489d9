// Command loadgen loads the serving layer with airport queries: the six
// calendar months (-mix months, which the answer cache holds) or random
// hour-aligned ranges over January-June (-mix hours, which defeat it, as
// `make bench` uses it), open-loop at a fixed rate (latency percentiles,
// without coordinated omission: each request's latency counts from its
// scheduled time), or closed-loop with C connections (throughput). It prints
// one JSON line. It imports no Tributary package.
package main
