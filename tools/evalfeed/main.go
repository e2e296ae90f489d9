package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/amqpconn"
)

func main() {
	data := flag.String("data", "data/flights-3m.parquet", "the flights data set")
	from := flag.Int64("from", 0, "first row published")
	to := flag.Int64("to", 0, "row after the last one published")
	rate := flag.Float64("rate", 2000, "events per second over all partitions")
	producer := flag.String("producer", "evalfeed", "producer name (a new one per run: seqs count from row 0)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, *data, *from, *to, *rate, *producer); err != nil {
		fmt.Fprintln(os.Stderr, "evalfeed:", err)
		os.Exit(1)
	}
}

// settings are the broker and the streams, from the roles' environment.
type settings struct {
	amqpURL string
	streams topology.Streams
}

// fromEnv reads the settings as the tributary binary's flags would: the
// same variables and defaults, and streams replicated on min(nodes, 3) nodes
// so that declaring them again matches how `tributary streams declare` did.
func fromEnv(getenv func(string) string) (settings, error) {
	s := settings{amqpURL: getenv("TRIBUTARY_AMQP_URL"), streams: topology.Streams{
		Prefix: getenv("TRIBUTARY_STREAM_PREFIX"), Partitions: topology.DefaultPartitions}}
	if s.amqpURL == "" {
		return s, errors.New("TRIBUTARY_AMQP_URL is not set (set -a; . .run/cluster/env; set +a)")
	}
	if s.streams.Prefix == "" {
		s.streams.Prefix = topology.DefaultPrefix
	}
	if v := getenv("TRIBUTARY_PARTITIONS"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("TRIBUTARY_PARTITIONS=%q: %w", v, err)
		}
		s.streams.Partitions = p
	}
	s.streams.Replicas = min(len(amqpconn.Split(s.amqpURL)), 3)
	return s, s.streams.Validate()
}

func run(ctx context.Context, getenv func(string) string, data string, from, to int64, rate float64, producer string) error {
	if to <= from || rate <= 0 {
		return fmt.Errorf("need -from < -to and -rate > 0 (got %d, %d, %g)", from, to, rate)
	}
	s, err := fromEnv(getenv)
	if err != nil {
		return err
	}
	d, err := amqpconn.New(s.amqpURL, "evalfeed", nil)
	if err != nil {
		return err
	}
	conn, _, err := d.DialOnce()
	if err != nil {
		return err
	}
	defer conn.Close()
	batch := max(1, int(rate/float64(s.streams.Partitions)/20))
	start := time.Now()
	res, err := feed.Publish(ctx, conn, s.streams, feed.Options{DataPath: data, From: from, To: to, Batch: batch,
		Producer: producer, Rate: rate, Stamp: true})
	if err != nil {
		return err
	}
	var msgs int64
	for _, n := range res.Messages {
		msgs += n
	}
	secs := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"events": res.Events, "messages": msgs, "seconds": secs,
		"events_per_s": float64(res.Events) / secs, "batch": batch})
}
