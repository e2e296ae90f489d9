// Command speedcost times the queries of `tributary serve` whose cost is the
// speed part's read (issue 12: every admitted query within ~50 ms): top
// lists, one airport, one route and an airport's hourly series over growing
// ranges of speed hours. Run it against a serve with --answer-cache 0 (every
// request is computed) over a speed layer that holds the data set and no
// batch view (bench/serve/speedcost.sh sets that up and runs it). With
// -ref, every answer must be byte-identical to the reference server's (e.g.
// the previous build over the same data). It prints one JSON line per query: the speed buckets it reads
// (hours x groups), the median and the slowest of -n requests in ms, and
// the HTTP status (400: refused by the limits).
package main
