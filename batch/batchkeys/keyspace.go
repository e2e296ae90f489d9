package batchkeys

import "strconv"

// Keys builds the batch layer's key names under one prefix.
type Keys struct{ base string }

// New returns the keys under keyPrefix (the --key-prefix setting).
func New(keyPrefix string) Keys { return Keys{base: keyPrefix + ":batch:"} }

// Base is the common prefix of every key, ending in ':'.
func (k Keys) Base() string { return k.base }

// archive is the start of the archiver's keys of partition p: they carry
// the partition's hash tag, so that the commit script's keys (partition
// hash, segments, quarantine, lease) share one Redis Cluster slot.
func (k Keys) archive(p int) string { return k.base + "archive:{" + strconv.Itoa(p) + "}:" }

// view is the start of the published view's keys (counters, manifests,
// nodes, current): one hash tag, so that the switch script, which checks
// and persists the new version's nodes and expires the old one's, runs on
// one Redis Cluster slot. The view is small (tens of MB): one node holds it.
func (k Keys) view() string { return k.base + "{view}:" }

// ArchiveMeta is the archiver's description (store URL, partitions).
func (k Keys) ArchiveMeta() string { return k.base + "archive:meta" }

// ArchivePartition is partition p's committed archive progress.
func (k Keys) ArchivePartition(p int) string { return k.archive(p) + "part" }

// Segments is the zset of partition p's committed segments.
func (k Keys) Segments(p int) string { return k.archive(p) + "segments" }

// ArchiveLease is partition p's archiver lease ("<archiver>|<token>").
func (k Keys) ArchiveLease(p int) string { return k.archive(p) + "lease" }

// ArchiveFence is partition p's fencing-token counter.
func (k Keys) ArchiveFence(p int) string { return k.archive(p) + "fence" }

// ArchiveMembers is the zset of live archivers.
func (k Keys) ArchiveMembers() string { return k.base + "archive:members" }

// Quarantine is the archiver's list of partition p's quarantined messages.
func (k Keys) Quarantine(p int) string { return k.archive(p) + "quarantine" }

// Version is the version counter.
func (k Keys) Version() string { return k.view() + "version" }

// Epoch is the node-key salt counter.
func (k Keys) Epoch() string { return k.view() + "epoch" }

// Node is a merged node of the recompute tree.
func (k Keys) Node(hash string) string { return k.view() + "node:" + hash }

// Manifest is version n's manifest.
func (k Keys) Manifest(n int64) string { return k.ManifestBase() + strconv.FormatInt(n, 10) }

// ManifestBase is the name of every manifest without its version number.
func (k Keys) ManifestBase() string { return k.view() + "v" }

// Current is the manifest of the current version.
func (k Keys) Current() string { return k.view() + "current" }

// Reconcile holds the last reconciliation's results.
func (k Keys) Reconcile() string { return k.base + "reconcile" }

// Field names of the archive's partition hash and of a manifest.
const (
	FieldOffset      = "offset"
	FieldMaxTime     = "maxtime"
	FieldEvents      = "events"
	FieldSegments    = "segments"
	FieldDuplicates  = "duplicates"
	FieldQuarantined = "quarantined"
	// FieldCommit is the last commit's attempt id (archive/commit.lua).
	FieldCommit = "commit"
	// SeqPrefix + producer is a producer's dedup mark (ingest/dedup.Mark).
	SeqPrefix = "s:"

	FieldStore      = "store"
	FieldPartitions = "partitions"

	FieldVersion     = "version"
	FieldBoundary    = "boundary"
	FieldPublishedAt = "published_at"
	FieldNodes       = "nodes"
)
