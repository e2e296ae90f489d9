// Package pipelinetest runs the whole pipeline inside a test, on the real
// services: the replayer, speed workers, the archiver, a scheduler with batch
// workers, all under a prefix of the test's own, and waits for each layer to
// catch up. End-to-end tests (serving, the demo) build on it.
package pipelinetest
