// Package workers owns the execution side of Tributary's task scheduler: the
// registry of functions by name (other packages register theirs, e.g. the
// batch layer's Arrow functions), and the Worker, an asynq server that runs a
// graph's tasks: it starts a task (one script: state, memoization check and
// the dependencies' results), calls the function, then completes it with the
// fan-in script, which enqueues the dependents that became ready, so that no
// central process sits between two tasks. It advertises its functions in
// Redis with a TTL heartbeat, which is also how the scheduler notices that it
// died.
package workers
