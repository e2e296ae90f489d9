package main

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/tributary-dev/tributary/internal/amqpconn"
)

func newStreamsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "Declare, inspect or delete the partitioned stream queues",
	}
	withChannel := func(fn func(*amqp.Channel) error) error {
		d, err := amqpconn.New(g.amqpURL, "tributary-streams", g.log)
		if err != nil {
			return err
		}
		conn, _, err := d.DialOnce()
		if err != nil {
			return fmt.Errorf("connect to RabbitMQ: %w", err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		return fn(ch)
	}
	cmd.AddCommand(
		&cobra.Command{
			Use: "declare", Short: "Declare the P stream queues (idempotent)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withChannel(func(ch *amqp.Channel) error {
					if err := g.streams.Declare(ch); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "declared %d stream queues %s.0 .. %s.%d\n",
						g.streams.Partitions, g.streams.Prefix, g.streams.Prefix, g.streams.Partitions-1)
					return nil
				})
			},
		},
		&cobra.Command{
			Use: "info", Short: "Print the messages held by each stream queue", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withChannel(func(ch *amqp.Channel) error {
					for p := 0; p < g.streams.Partitions; p++ {
						q, err := ch.QueueDeclarePassive(g.streams.Queue(p), true, false, false, false, amqp.Table{"x-queue-type": "stream"})
						if err != nil {
							return fmt.Errorf("stream %s: %w", g.streams.Queue(p), err)
						}
						fmt.Fprintf(cmd.OutOrStdout(), "%s\t%d messages\n", q.Name, q.Messages)
					}
					return nil
				})
			},
		},
		&cobra.Command{
			Use: "delete", Short: "Delete the P stream queues and everything in them", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withChannel(func(ch *amqp.Channel) error { return g.streams.Delete(ch) })
			},
		},
	)
	return cmd
}
