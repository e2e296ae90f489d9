// Package redisconn turns one --redis-url into the clients every Tributary
// role needs: a go-redis UniversalClient and the matching asynq RedisConnOpt.
//
// Three shapes of URL are accepted, so that a deployment moves from one Redis
// to Sentinel or to a Redis Cluster by changing a setting, not code:
//
//	redis://:PW@HOST:6379/0                                     one server
//	redis://:PW@S1:26379/0?master_name=M&addr=S2:26379&addr=S3:26379   Sentinel (go-redis failover URL)
//	redis://:PW@N1:6379?addr=N2:6379&addr=N3:6379                Redis Cluster (seed nodes)
//	redis+cluster://:PW@N1:6379                                  Redis Cluster with one seed
//
// In a failover URL the password is both the Sentinels' and the data nodes'
// (go-redis alone would give it to the Sentinels only); a `password` query
// parameter sets the data nodes' password separately.
package redisconn
