// Package view owns the published batch view: its atomic publication (one
// script switches the current version together with its time boundary) and
// its reader, Load, which the serving layer uses.
//
// A version is a manifest (batchkeys: B:v<N>, copied into B:current by the
// switch) listing the node keys (B:node:<hash>) that hold its data: Arrow IPC
// aggregates (package partial) over disjoint sets of segments. Nodes are
// immutable and content-addressed, so consecutive versions share the nodes
// of the segments they both cover: that is what makes an incremental
// recompute cheap. The same (group, hour) may appear in several nodes of a
// partition (a segment boundary inside an hour); readers add them up.
//
// Publication (Switch) is one Lua script: it refuses a version not newer than
// the current one, checks that every node exists, removes the new nodes'
// TTL, writes B:v<N> and B:current, and gives the nodes that only the
// retired version used (and the retired manifest) a TTL of the grace period,
// so that a reader that loaded the previous manifest can still fetch its
// nodes. Until the script runs nothing a reader looks at has changed: a
// publication that dies midway leaves the previous version current.
//
// The view covers the hours strictly before its boundary; Load drops the
// rows at or after it (the nodes hold them, the next versions cover them).
package view
