// Package segment owns the format of the master data set's segments: their
// names (deterministic from a partition and an offset range, so that a crash
// rewrites the same range under the same name) and their content, one Parquet
// file of events written and read with arrow-go.
package segment
