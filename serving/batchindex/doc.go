// Package batchindex holds one published version of the batch view in the
// serving process, in a compact columnar form that answers any range of
// hours exactly in time bounded by the data, not by the range.
//
// Each group keeps its exact delay histogram at three levels: per hour, per
// day and per 16-day block, each a sorted run of (delay index, count) pairs
// over the version's dictionary of delays; the airport view keeps its
// destinations as bitsets over the version's dictionary of airports at the
// same levels. A range [from, to) takes whole blocks in its middle, whole
// days at its edges and single hours at its ends: at most ~2×15 days and
// ~2×23 hours besides the blocks, however wide it is. Each group also keeps
// one aggregate of all its hours before the boundary: a range that covers
// them all (a query over all the data) merges that one alone, so a top list
// over all data costs one aggregate per airport. Count, sum, delayed
// share, minimum and maximum all follow exactly from the merged histogram,
// so nothing else is stored.
package batchindex
