// Package testenv gives tests the real services that `make services` started:
// it reads .run/env, hands out clients and a unique name prefix per test so
// that tests never see each other's queues or keys, and builds the tributary
// binary once for tests that run it as a subprocess (to SIGKILL it).
//
// Tests fail, rather than skip, when the services are not running: a test that
// silently skips cannot fail.
package testenv
