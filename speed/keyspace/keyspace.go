package keyspace

import "strconv"

// Keys builds the speed layer's key names under one prefix.
type Keys struct {
	base string // "<keyPrefix>:speed:"
}

// New returns the keys under keyPrefix (the --key-prefix setting).
func New(keyPrefix string) Keys { return Keys{base: keyPrefix + ":speed:"} }

// Base is the common prefix of every key, ending in ':' (for SCAN MATCH base*).
func (k Keys) Base() string { return k.base }

// Hour is the hash of one hour of a view: one field per group, whose value
// is the bucket's absolute state, packed (speed/store's encoding). Every
// group is written by the one partition its origin falls in.
func (k Keys) Hour(view string, hour int64) string {
	return k.base + "h:" + view + ":" + strconv.FormatInt(hour, 10)
}

// Partition is the hash of partition p's committed progress.
func (k Keys) Partition(p int) string { return k.base + "part:" + strconv.Itoa(p) }

// Lease is partition p's lease.
func (k Keys) Lease(p int) string { return k.base + "lease:" + strconv.Itoa(p) }

// Fence is partition p's fencing-token counter.
func (k Keys) Fence(p int) string { return k.base + "fence:" + strconv.Itoa(p) }

// Members is the zset of live workers.
func (k Keys) Members() string { return k.base + "members" }

// Quarantine is the list of quarantined messages.
func (k Keys) Quarantine() string { return k.base + "quarantine" }

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
	// SeqPrefix + producer is a producer's dedup mark (ingest/dedup.Mark:
	// the highest applied seq, then the missing ranges below it).
	SeqPrefix = "s:"
)
