// Package dataset reads the flights data set (flights-3m.parquet of
// vega-datasets) with arrow-go's Parquet reader, one record batch at a time,
// and turns each row into a flight.Event with a stable ID. It never holds the
// whole file as Go values.
package dataset
