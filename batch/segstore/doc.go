// Package segstore owns where the master data set's segments live: a store
// named by a URL, a local directory (a plain path or file://) for one
// machine, or an object store (gs://, s3:// through gocloud.dev/blob) that
// batch workers on other machines read as well.
//
// Both kinds publish a segment atomically: a reader sees the whole file or
// nothing. The local store writes a temporary file, fsyncs it, renames it and
// fsyncs the directory; an object store makes a write visible only when the
// writer is closed successfully.
//
// Which segments belong to the master data set is not decided by listing a
// store (a crash can leave a file whose offsets were never committed): the
// archiver's committed list in Redis is the source of truth (package archive).
package segstore
