// Package dedup owns at-least-once delivery's other half: an event carries
// its producer's name and a sequence number that only grows per producer
// (ingest/wire), so an event whose seq is not above the highest seq applied
// for its producer is a retry and is dropped. Events without a seq (0) are
// never deduplicated. The speed layer and the archiver keep one Seqs per
// partition and commit the changed seqs with their progress.
package dedup
