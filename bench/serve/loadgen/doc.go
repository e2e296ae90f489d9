// Command loadgen loads the serving layer with month-long airport queries:
// open-loop at a fixed rate (latency percentiles, without coordinated
// omission: each request's latency counts from its scheduled time), or
// closed-loop with C connections (throughput). It prints one JSON line.
package main
