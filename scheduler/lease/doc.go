// Package lease owns leader election among scheduler replicas: a Redis key
// holding the leader's ID with a TTL that the leader renews; another replica
// takes over once it expires.
package lease
