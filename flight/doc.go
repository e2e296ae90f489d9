// Package flight owns Tributary's domain: the flight event that travels through
// the pipeline, how events are partitioned, and the definitions of the views that
// the speed layer approximates and the batch layer computes exactly.
//
// Both layers import this package so that a view is defined once: its bucket
// key, the statistics it keeps and what "delayed" means live here and nowhere else.
package flight
