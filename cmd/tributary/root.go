package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/obs"
)

// globals are the settings that every role shares.
type globals struct {
	redisURL  string
	amqpURL   string
	keyPrefix string
	streams   topology.Streams
	logLevel  string
	logFormat string
	runtime   runtimeFlags
	log       *slog.Logger
	// hint, when neither a flag, the environment nor .run/env gave the
	// connection settings, says how to give them (see connectionHint).
	hint string
}

// runEnvPath is read from the current directory, not the binary's.
const runEnvPath = ".run/env"

// newRootCmd builds the command tree; extra commands are added beside the
// roles (tests use it).
func newRootCmd(extra ...*cobra.Command) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "tributary",
		Short:         "Tributary: a lambda-architecture pipeline over the 2001 US flights",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			found, err := loadRunEnv(runEnvPath)
			if err != nil {
				return err
			}
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			cwd, _ := os.Getwd()
			g.hint = connectionHint(cmd.Flags(), found, cwd)
			log, err := obs.NewLogger(os.Stderr, g.logLevel, g.logFormat)
			if err != nil {
				return err
			}
			g.log = log.With("role", cmd.Name())
			slog.SetDefault(g.log)
			if g.hint != "" {
				g.log.Warn(g.hint)
			}
			if err := g.runtime.apply(cmd.Name(), g.log); err != nil {
				return err
			}
			if g.streams.Replicas == 0 {
				g.streams.Replicas = min(len(amqpconn.Split(g.amqpURL)), 3)
			}
			return g.streams.Validate()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL: redis://:PW@HOST:PORT/DB, a Sentinel failover URL (redis://:PW@S1:PORT/DB?master_name=NAME&addr=S2:PORT&addr=S3:PORT) or a cluster URL (redis://:PW@N1:PORT?addr=N2:PORT, redis+cluster://...)")
	pf.StringVar(&g.amqpURL, "amqp-url", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ AMQP URL, or a comma-separated list of cluster nodes in order of preference")
	pf.StringVar(&g.keyPrefix, "key-prefix", "tributary", "prefix of every Redis key Tributary writes")
	pf.StringVar(&g.streams.Prefix, "stream-prefix", topology.DefaultPrefix, "prefix of the stream queue names (partition i is PREFIX.i)")
	pf.IntVar(&g.streams.Partitions, "partitions", topology.DefaultPartitions, "number of stream partitions (P)")
	pf.IntVar(&g.streams.Replicas, "stream-replicas", 0, "broker nodes holding each stream queue (x-initial-cluster-size); 0: the number of --amqp-url nodes, at most 3")
	pf.StringVar(&g.streams.MaxAge, "stream-max-age", "", "stream retention by age (x-max-age, e.g. 7D); empty: keep everything (it must exceed the archiver's lag)")
	pf.Int64Var(&g.streams.MaxLengthBytes, "stream-max-bytes", 0, "stream retention by size per partition (x-max-length-bytes); 0: keep everything (it must exceed the archiver's lag)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	g.runtime.add(pf)

	root.AddCommand(
		newReplayCmd(g),
		newStreamsCmd(g),
		newSchedulerCmd(g),
		newWorkerCmd(g),
		newGraphCmd(g),
		newSpeedCmd(g),
		newArchiveCmd(g),
		newBatchCmd(g),
		newServeCmd(g),
		newAutoscaleCmd(g),
		newQuarantineCmd(g),
	)
	root.AddCommand(extra...)
	withHint(root, g)
	envHelp(root)
	return root
}

// connectionHint returns, when none of the connection flags was set (on the
// command line or by its environment variable) and no run env file was found,
// what to set: run elsewhere than the repository root, every role would
// otherwise try the defaults (guest@127.0.0.1:5672) and fail with no clue.
func connectionHint(fs *pflag.FlagSet, runEnvFound bool, cwd string) string {
	if runEnvFound {
		return ""
	}
	for _, name := range []string{"redis-url", "amqp-url"} {
		if f := fs.Lookup(name); f != nil && f.Changed {
			return ""
		}
	}
	return fmt.Sprintf("no connection settings: set --redis-url (or $%s) and --amqp-url (or $%s), or run from the directory "+
		"holding %s (written by `make services`; it is read from the current directory, here %s, which has none); "+
		"using the defaults %s and %s", envName("redis-url"), envName("amqp-url"), runEnvPath, cwd,
		fs.Lookup("redis-url").DefValue, fs.Lookup("amqp-url").DefValue)
}

// withHint makes every command's error end with g.hint, when there is one:
// the error is then most likely a connection refused by the defaults.
func withHint(cmd *cobra.Command, g *globals) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			if err != nil && g.hint != "" {
				return fmt.Errorf("%w\n(%s)", err, g.hint)
			}
			return err
		}
	}
	for _, c := range cmd.Commands() {
		withHint(c, g)
	}
}

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	return "TRIBUTARY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv sets every flag not given on the command line from its environment
// variable, if set: the command line wins over the environment, which wins
// over the default.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment %s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	return err
}

// envHelp appends the environment variable of every flag to its usage, so
// that --help shows both.
func envHelp(cmd *cobra.Command) {
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !strings.Contains(f.Usage, "[$TRIBUTARY_") {
				f.Usage += " [$" + envName(f.Name) + "]"
			}
		})
	}
	for _, c := range cmd.Commands() {
		envHelp(c)
	}
}

// loadRunEnv reads the `export NAME='value'` lines that `make services` writes
// into .run/env, for the variables not set already: run from a checkout, the
// binary finds the project's services without any setting. It reports
// whether the file exists.
func loadRunEnv(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if !ok || !strings.HasPrefix(k, "TRIBUTARY_") {
			continue
		}
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, strings.Trim(v, `'"`))
		}
	}
	return true, nil
}
