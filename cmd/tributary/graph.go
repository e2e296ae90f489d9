package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

func newGraphCmd(g *globals) *cobra.Command {
	var url, token string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Submit, watch, wait for and cancel task graphs; benchmark the scheduler",
	}
	cmd.PersistentFlags().StringVar(&url, "scheduler-url", "http://127.0.0.1:8090", "URL of a scheduler replica")
	cmd.PersistentFlags().StringVar(&token, "admin-token", "", "the scheduler's --admin-token, sent as a bearer token")
	cli := func() *client.Client { return client.New(url).WithToken(token) }

	cmd.AddCommand(&cobra.Command{
		Use:   "status ID",
		Short: "Print a graph's progress (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cli().Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(st)
		},
	})
	var every time.Duration
	wait := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a graph with a progress bar (tasks done of total, failures, ETA); fails if the graph fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := waitGraph(cmd.Context(), g, cli(), args[0], every)
			if err != nil {
				return err
			}
			return graphOutcome(st)
		},
	}
	wait.Flags().DurationVar(&every, "poll", 100*time.Millisecond, "poll interval")
	cmd.AddCommand(wait)
	cmd.AddCommand(newGraphCancelCmd(cli))
	cmd.AddCommand(newGraphSubmitCmd(cli))
	cmd.AddCommand(newGraphBenchCmd(g, cli))
	return cmd
}

func newGraphCancelCmd(cli func() *client.Client) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a graph: pending tasks are dropped, running ones interrupted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ok, err := cli().Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !ok {
				fmt.Println("graph", args[0], "had already finished")
				return nil
			}
			fmt.Println("graph", args[0], "cancelled")
			return nil
		},
	}
}

func newGraphSubmitCmd(cli func() *client.Client) *cobra.Command {
	return &cobra.Command{
		Use:   "submit FILE",
		Short: "Submit a graph written as JSON (graph.Graph; - for stdin) and print its ID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := os.Stdin
			if args[0] != "-" {
				var err error
				if f, err = os.Open(args[0]); err != nil {
					return err
				}
				defer f.Close()
			}
			var gr graph.Graph
			if err := json.NewDecoder(f).Decode(&gr); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			res, err := cli().Submit(cmd.Context(), &gr)
			if err != nil {
				return err
			}
			return printJSON(res)
		},
	}
}

func newGraphBenchCmd(g *globals, cli func() *client.Client) *cobra.Command {
	var (
		tasks, fanIn    int
		shape, prio, fn string
		args            string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Submit a graph of no-op tasks (or --func) with fresh keys (nothing memoized) and print tasks/s",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gr, err := benchGraph(shape, tasks, fanIn, graph.Priority(prio), fn, []byte(args))
			if err != nil {
				return err
			}
			c := cli()
			start := time.Now()
			res, err := c.Submit(cmd.Context(), gr)
			if err != nil {
				return err
			}
			submitted := time.Since(start)
			st, err := waitGraph(cmd.Context(), g, c, res.ID, 10*time.Millisecond)
			if err != nil {
				return err
			}
			el := time.Since(start)
			if err := graphOutcome(st); err != nil {
				return err
			}
			fmt.Printf("shape=%s tasks=%d submit=%v total=%v tasks_per_s=%.0f\n", shape, len(gr.Tasks),
				submitted.Round(time.Millisecond), el.Round(time.Millisecond), float64(len(gr.Tasks))/el.Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&tasks, "tasks", 10000, "tasks (independent) or leaves (tree)")
	f.StringVar(&shape, "shape", "independent", "independent or tree")
	f.IntVar(&fanIn, "fan-in", 8, "fan-in of the tree reduction")
	f.StringVar(&prio, "priority", "default", "graph priority: interactive, default, batch")
	f.StringVar(&fn, "func", "noop", `function of every task, e.g. "spin" (CPU-bound: --args rounds, ~1 ns each)`)
	f.StringVar(&args, "args", "", "arguments of every task")
	return cmd
}

// benchGraph returns a graph of tasks of function fn whose keys are fresh,
// so that nothing is memoized.
func benchGraph(shape string, n, fanIn int, prio graph.Priority, fn string, args []byte) (*graph.Graph, error) {
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	run := "bench-" + hex.EncodeToString(nonce)
	b := graph.New(run).WithPriority(prio)
	leaves := b.Generate(run+"/t", fn, n, func(int) any { return args })
	switch shape {
	case "independent":
	case "tree":
		b.TreeReduce(run+"/r", fn, args, fanIn, leaves)
	default:
		return nil, fmt.Errorf("shape %q: want independent or tree", shape)
	}
	return b.Build()
}

// waitGraph waits for graph id with a progress report.
func waitGraph(ctx context.Context, g *globals, c *client.Client, id string, every time.Duration) (*scheduler.Status, error) {
	var p *obs.Progress
	st, err := c.Wait(ctx, id, every, func(st *scheduler.Status) {
		if p == nil {
			p = obs.NewProgress(os.Stderr, g.log, "tasks", st.Total, 2*time.Second)
		}
		p.Set(st.Done, fmt.Sprintf("failed=%d running=%d memoized=%d", st.Failed, st.Running, st.Memoized))
	})
	if p != nil {
		p.Finish()
	}
	return st, err
}

// graphOutcome turns a final state into the command's result.
func graphOutcome(st *scheduler.Status) error {
	switch st.State {
	case scheduler.GraphDone:
		return nil
	case scheduler.GraphFailed:
		return fmt.Errorf("graph %s failed: task %q: %s", st.ID, st.ErrorKey, st.Error)
	default:
		return errors.New("graph " + st.ID + " " + string(st.State))
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
