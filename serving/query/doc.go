// Package query parses the parameters of the serving API (a range of whole
// hours, an IATA code, the order and length of a top list) into values or
// errors a client can act on, which quote at most a short prefix of the bad
// input. It has its own package so that its fuzz targets build quickly.
package query
