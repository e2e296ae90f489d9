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

// Bucket is the hash of one bucket: stats and sketch bins.
func (k Keys) Bucket(view, group string, hour int64) string {
	return k.base + "v:" + view + ":" + group + ":" + strconv.FormatInt(hour, 10)
}

// Distinct is the HyperLogLog of one bucket's destinations.
func (k Keys) Distinct(view, group string, hour int64) string {
	return k.base + "d:" + view + ":" + group + ":" + strconv.FormatInt(hour, 10)
}

// Groups is the set of groups with data in one hour of a view.
func (k Keys) Groups(view string, hour int64) string {
	return k.base + "g:" + view + ":" + strconv.FormatInt(hour, 10)
}

// Partition is the hash of partition p's committed progress.
func (k Keys) Partition(p int) string { return k.base + "part:" + strconv.Itoa(p) }

// Lease is partition p's lease.
func (k Keys) Lease(p int) string { return k.base + "lease:" + strconv.Itoa(p) }

// Fence is partition p's fencing-token counter.
func (k Keys) Fence(p int) string { return k.base + "fence:" + strconv.Itoa(p) }

// Members is the zset of live workers.
func (k Keys) Members() string { return k.base + "members" }

// Scratch is a short-lived key of one read (the union of HyperLogLogs).
func (k Keys) Scratch(id string) string { return k.base + "scratch:" + id }

// Quarantine is the list of quarantined messages.
func (k Keys) Quarantine() string { return k.base + "quarantine" }

// Field names of a bucket hash and of a partition hash.
const (
	FieldCount   = "count"
	FieldSum     = "sum"
	FieldDelayed = "delayed"
	FieldMin     = "min"
	FieldMax     = "max"
	// BinPrefix + strconv.Itoa(bin) is a sketch bin's field.
	BinPrefix = "b"

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
