// Package workers owns the execution side of Tributary's task scheduler: the
// registry of functions by name (other packages register theirs, e.g. the
// batch layer's Arrow functions), and the Worker, asynq servers that run a
// graph's tasks (worker.go): through a scheduler.TaskRecorder it starts a
// task (one script: the start transition, memoization check and the
// dependencies' results), calls the function, then completes it with the
// fan-in script, which enqueues the dependents that became ready, so that no
// central process sits between two tasks; the starts and completions of
// concurrent tasks share round trips. Its heartbeat (heartbeat.go)
// advertises its functions in Redis with a TTL, which is also how the
// scheduler notices that it died.
package workers
