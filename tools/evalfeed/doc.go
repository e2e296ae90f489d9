// Command evalfeed publishes rows of the data set into the cluster's streams
// at a fixed rate, each message stamped with its publish time (the
// x-published-at-us header, ingest/feed's Stamp), so that the speed workers'
// tributary_speed_event_to_view_seconds histogram measures publish-to-view
// latency. `tributary replay` does not stamp its messages; the throughput
// matrix (scripts/eval-matrix.sh) uses this for its paced phase.
//
// The connection and the streams come from the same environment as the
// roles' (TRIBUTARY_AMQP_URL, TRIBUTARY_STREAM_PREFIX, TRIBUTARY_PARTITIONS):
//
//	set -a; . .run/cluster/env; set +a
//	go run ./tools/evalfeed -from 200000 -to 230000 -rate 2000 -producer probe
//
// Messages carry Arrow batches of about rate/partitions/20 events (about 20
// messages a second per partition), whatever the replay's encoding.
package main
