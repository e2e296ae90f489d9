// Package storetest writes events into the speed views through the real
// writer (speed/store.Writer, fenced flush script, one lease per partition),
// for the tests of the packages that read those views: the speed store's
// readers, and the batch layer's reconciliation.
package storetest
