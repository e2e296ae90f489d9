// Command tributary runs every role of the Tributary pipeline: one subcommand
// per role (replay, streams, speed, archive, scheduler, worker, batch, graph,
// serve; scripts/demo.sh runs them all on one machine). Every flag can also
// be set through an environment variable named TRIBUTARY_ followed by the
// flag's name in upper case with dashes as underscores (--redis-url:
// TRIBUTARY_REDIS_URL).
package main
