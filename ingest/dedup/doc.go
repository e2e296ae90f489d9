// Package dedup owns at-least-once delivery's other half: an event carries
// its producer's name and a sequence number (ingest/wire) that the replayer
// and the test feed number contiguously per partition, so a consumer of one
// partition keeps, per producer, a Mark: the highest seq it admitted and the
// seqs below it that it has not seen yet (gaps). An event whose seq is
// neither above the highest nor in a gap is a retry and is dropped; a seq in
// a gap is admitted once. Gaps exist because a broker failover can store
// events the publisher sent again after later events of the same partition
// that got through (docs/operations.md, rabbit-first-kill): a high-water
// mark alone dropped them. Gaps are awaited for Window seqs below the
// highest and at most MaxGaps ranges per producer. Events without a seq (0)
// are never deduplicated. The speed layer and the archiver keep one Seqs
// per partition and commit the changed marks (Mark.String) in the same
// script as their offsets, so that marks and offsets always agree.
package dedup
