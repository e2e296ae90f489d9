// Package metrics owns the speed worker's Prometheus metrics, all named
// tributary_speed_*.
package metrics
