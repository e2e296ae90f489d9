package keyspace

import (
	"strconv"
	"strings"

	"github.com/tributary-dev/tributary/flight"
)

// Keys builds the speed layer's key names under one prefix.
type Keys struct {
	base string // "<keyPrefix>:speed:"
}

// New returns the keys under keyPrefix (the --key-prefix setting).
func New(keyPrefix string) Keys { return Keys{base: keyPrefix + ":speed:"} }

// Base is the common prefix of every key, ending in ':' (for SCAN MATCH base*).
func (k Keys) Base() string { return k.base }

// tagged is the start of partition p's keys: "P:{p}:". Every key one flush
// script touches carries this hash tag, so that they share one Redis Cluster
// slot (and the layout is the same on one server, Sentinel or a cluster).
func (k Keys) tagged(p int) string { return k.base + "{" + strconv.Itoa(p) + "}:" }

// Hour is partition p's hash of one hour of a view: one field per group of
// the partition (the groups whose origin falls in p, GroupPartition), whose
// value is the bucket's absolute state, packed (speed/store's encoding).
func (k Keys) Hour(p int, view string, hour int64) string {
	return k.tagged(p) + "h:" + view + ":" + strconv.FormatInt(hour, 10)
}

// Partition is the hash of partition p's committed progress.
func (k Keys) Partition(p int) string { return k.tagged(p) + "part" }

// Lease is partition p's lease.
func (k Keys) Lease(p int) string { return k.tagged(p) + "lease" }

// Fence is partition p's fencing-token counter.
func (k Keys) Fence(p int) string { return k.tagged(p) + "fence" }

// Quarantine is partition p's list of quarantined messages.
func (k Keys) Quarantine(p int) string { return k.tagged(p) + "quarantine" }

// Members is the zset of live workers.
func (k Keys) Members() string { return k.base + "members" }

// GroupPartition is the partition, of n, whose hour hashes hold group: the
// partition of its origin (a group is an origin, "ATL", or a route whose
// origin comes first, "ATL-LAX"; airport codes have no '-').
func GroupPartition(group string, n int) int {
	origin, _, _ := strings.Cut(group, "-")
	return flight.Partition(origin, n)
}

// Field names of a partition hash.
const (
	FieldOffset      = "offset"
	FieldToken       = "token"
	FieldMaxTime     = "maxtime"
	FieldMinTime     = "mintime"
	FieldApplied     = "applied"
	FieldLate        = "late"
	FieldDuplicates  = "duplicates"
	FieldQuarantined = "quarantined"
	// FieldExpired is the first hour (Unix seconds) whose hashes the
	// partition's owners have not given the covered TTL yet: every hour
	// before it the batch layer covers (speed's coverage duty).
	FieldExpired = "expired"
	// FieldExpiredGrace is the TTL (ms) the coverage duty last gave: the
	// flush gives it to a hash it writes in an hour before FieldExpired.
	FieldExpiredGrace = "expired_grace_ms"
	// SeqPrefix + producer is a producer's dedup mark (ingest/dedup.Mark:
	// the highest applied seq, then the missing ranges below it).
	SeqPrefix = "s:"
)

// FieldDigest is the reserved field of an hour hash (Hour) that holds the
// hash's digest: the sum modulo 2^64 of its buckets' flight.BucketHash, in
// hexadecimal, kept by the partition's owner with every flush. Groups are
// airport codes or "ORG-DST", so no group is named like it; every reader
// of whole hour hashes skips it.
const FieldDigest = "#digest"
