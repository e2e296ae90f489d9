package main

import (
	"context"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	three := "amqp://u:p@h:1/,amqp://u:p@h:2/,amqp://u:p@h:3/"
	for _, tc := range []struct {
		name       string
		env        map[string]string
		prefix     string
		partitions int
		replicas   int
		err        string
	}{
		{name: "defaults", env: map[string]string{"TRIBUTARY_AMQP_URL": "amqp://u:p@h:1/"}, prefix: "tributary.flights", partitions: 8, replicas: 1},
		{name: "cluster", env: map[string]string{"TRIBUTARY_AMQP_URL": three, "TRIBUTARY_STREAM_PREFIX": "m.x.1", "TRIBUTARY_PARTITIONS": "16"},
			prefix: "m.x.1", partitions: 16, replicas: 3},
		{name: "no broker", env: map[string]string{}, err: "TRIBUTARY_AMQP_URL is not set"},
		{name: "bad partitions", env: map[string]string{"TRIBUTARY_AMQP_URL": three, "TRIBUTARY_PARTITIONS": "many"}, err: "TRIBUTARY_PARTITIONS"},
		{name: "zero partitions", env: map[string]string{"TRIBUTARY_AMQP_URL": three, "TRIBUTARY_PARTITIONS": "0"}, err: "partition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := fromEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.streams.Prefix != tc.prefix || s.streams.Partitions != tc.partitions || s.streams.Replicas != tc.replicas {
				t.Fatalf("streams = %+v, want prefix %s, %d partitions, %d replicas", s.streams, tc.prefix, tc.partitions, tc.replicas)
			}
		})
	}
}

func TestRunRejectsBadRange(t *testing.T) {
	env := func(string) string { return "amqp://u:p@h:1/" }
	for _, c := range [][2]int64{{10, 10}, {10, 5}} {
		if err := run(context.Background(), env, "x", c[0], c[1], 100, "p"); err == nil || !strings.Contains(err.Error(), "-from < -to") {
			t.Fatalf("run(%d, %d) = %v, want a range error", c[0], c[1], err)
		}
	}
}
