// Command evalbalance computes how the speed layer's load spreads over its
// workers for the data set's real skew and for a synthetic hot airport: the
// events of each partition (flight.Partition of the origin), the partitions
// of each worker (speed/membership.Assign, the assignment the workers compute),
// hence the events per worker, Jain's fairness index and the largest share.
// It is exact (it counts the data set), and it is what the runtime figures of
// scripts/eval-balance.sh are compared with.
//
//	go run ./tools/evalbalance -data data/flights-3m.parquet > bench/balance/balance-static.json
package main
