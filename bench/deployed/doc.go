// Command deployed is the harness of `make bench` (scripts/bench.sh): it
// measures Tributary as a user runs it, the processes of `make demo` started
// from bin/tributary with their default flags (unless a flag of this command
// says otherwise), and every reference in the same run, then writes every
// figure as one JSON document (bench/results/<UTC timestamp>.json and
// latest.json) that bench/report turns into a table and docs/benchmarks.md.
//
// It talks to Tributary only through the binary's command line and HTTP
// endpoints (the scheduler's /v1/functions, serve's /v1/status, /metrics), to
// Redis only for INFO and BGREWRITEAOF (below), and to RabbitMQ not at all (bench/rawconsume does, as
// the reference): no Tributary package is imported, so changes inside the
// layers do not break it.
//
// Phases, in one run, on fresh keys, streams and segment store:
//  1. scheduler: `tributary graph bench` (independent tasks, then a tree)
//     through one `tributary scheduler` and N `tributary worker`; raw asynq
//     with N server processes (bench/rawasynq); Dask (bench/scheduler_dask.py).
//  2. speed: N `tributary speed` workers and `tributary serve` run;
//     `tributary replay --speed max` publishes ROWS flights; timed until every
//     partition's committed offset reaches its stream's end (serve's
//     /v1/status); Redis INFO cpu and commandstats deltas; serve's worst
//     admitted queries while no batch view exists (every hour a speed hour:
//     top lists at --max-speed-buckets, an airport and a route over the half
//     year, the longest hourly series; speedonly.go); then a bare amqp091
//     consumer (bench/rawconsume) of the same streams.
//  3. batch: `tributary archive` archives the streams (not timed), Redis
//     rewrites its AOF (BGREWRITEAOF, waited for: the automatic rewrite
//     that the speed phase's writes had made due otherwise forked in the
//     middle of the timed run), then
//     `tributary batch run --wait`: time to publication (the manifest's
//     published_at) and to the command's return; pandas and tuned Dask
//     computing the same two hourly views (bench/batch_views.py, checked
//     against the reconciliation's bucket count), and the lighter
//     per-airport references of earlier runs (bench/batch_stats.py), on a
//     CSV of the same flights.
//  4. serve: bench/serve/loadgen (a separate process) on random hour-aligned
//     ranges that defeat the answer cache, closed and open loop; then
//     redis-benchmark GET on the same Redis.
//  5. latency: event-to-view latency at 5,000 events/s (tools/evalfeed) on
//     two more `tributary speed` with streams and keys of their own,
//     measured outside them: each message's publish stamp against the
//     first 5 ms read of its partition's committed offset past it.
//  6. peak RSS (VmHWM, or the rusage of processes that ended) of every role.
package main
