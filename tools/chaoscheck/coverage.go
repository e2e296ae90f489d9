package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// coverage is the check of the speed layer's coverage duty after a batch
// run: every speed hour hash of an hour the last reconciliation covers has
// the report's grace as its TTL, and no hash of a later hour has any.
type coverage struct {
	CoveredTo  string `json:"covered_to"`
	GraceMS    int64  `json:"grace_ms"`
	Partitions int    `json:"partitions_done"`
	// WaitedSeconds is how long the partitions' progress took to reach
	// the covered end.
	WaitedSeconds float64 `json:"waited_seconds"`
	// Covered and Later count the hour hashes before and from the end.
	Covered          int      `json:"covered_keys"`
	CoveredNoTTL     int      `json:"covered_keys_without_ttl"`
	CoveredWrongTTL  int      `json:"covered_keys_ttl_above_grace"`
	Later            int      `json:"later_keys"`
	LaterWithTTL     int      `json:"later_keys_with_ttl"`
	Examples         []string `json:"examples,omitempty"`
	Exact            bool     `json:"exact"`
	ProgressComplete bool     `json:"progress_complete"`
}

// checkCoverage waits (up to wait) until every partition's progress
// (field "expired" of <prefix>:speed:{p}:part) reaches the end of the last
// reconciliation's hours (<prefix>:batch:reconcile, fields "to" and
// "grace_ms", docs/operations.md), then reads the TTL of every hour hash
// <prefix>:speed:{p}:h:<view>:<hour>. It reads the layout from the docs,
// not from the pipeline's packages, like the rest of chaoscheck.
func checkCoverage(ctx context.Context, rdb redis.UniversalClient, prefix string, partitions int, wait time.Duration) (*coverage, error) {
	var rep struct {
		To      int64 `json:"to"`
		GraceMS int64 `json:"grace_ms"`
	}
	start := time.Now()
	for {
		b, err := rdb.Get(ctx, prefix+":batch:reconcile").Bytes()
		if err == nil {
			if err := json.Unmarshal(b, &rep); err != nil {
				return nil, fmt.Errorf("reconciliation report: %w", err)
			}
			break
		}
		if !errors.Is(err, redis.Nil) && time.Since(start) < wait {
			fmt.Fprintln(os.Stderr, "chaoscheck: read the reconciliation report (retrying):", err)
			time.Sleep(time.Second)
			continue
		}
		return nil, fmt.Errorf("reconciliation report: %w", err)
	}
	if rep.To <= 0 || rep.GraceMS <= 0 {
		return nil, fmt.Errorf("reconciliation report covers up to %d with grace %d ms: nothing to check", rep.To, rep.GraceMS)
	}
	c := &coverage{CoveredTo: time.Unix(rep.To, 0).UTC().Format(time.RFC3339), GraceMS: rep.GraceMS}
	for {
		done := 0
		for p := range partitions {
			v, err := rdb.HGet(ctx, fmt.Sprintf("%s:speed:{%d}:part", prefix, p), "expired").Int64()
			if err == nil && v >= rep.To {
				done++
			}
		}
		c.Partitions, c.WaitedSeconds = done, time.Since(start).Seconds()
		if c.ProgressComplete = done == partitions; c.ProgressComplete || time.Since(start) > wait {
			break
		}
		time.Sleep(time.Second)
	}
	grace := time.Duration(rep.GraceMS) * time.Millisecond
	example := func(format string, a ...any) {
		if len(c.Examples) < 10 {
			c.Examples = append(c.Examples, fmt.Sprintf(format, a...))
		}
	}
	for p := range partitions {
		match := fmt.Sprintf("%s:speed:{%d}:h:*", prefix, p)
		it := rdb.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			key := it.Val()
			hour, err := strconv.ParseInt(key[strings.LastIndexByte(key, ':')+1:], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("hour hash %q: %w", key, err)
			}
			ttl, err := rdb.PTTL(ctx, key).Result()
			if err != nil {
				return nil, fmt.Errorf("TTL of %s: %w", key, err)
			}
			if ttl == -2 { // go-redis's "no such key": gone between SCAN and PTTL
				continue
			}
			if hour < rep.To {
				c.Covered++
				switch {
				case ttl < 0:
					c.CoveredNoTTL++
					example("%s: covered, no TTL", key)
				case ttl > grace:
					c.CoveredWrongTTL++
					example("%s: covered, TTL %v above the grace %v", key, ttl, grace)
				}
			} else {
				c.Later++
				if ttl >= 0 {
					c.LaterWithTTL++
					example("%s: after the covered end, TTL %v", key, ttl)
				}
			}
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("scan %s: %w", match, err)
		}
	}
	// A check of nothing passes nothing: the batch run must have covered
	// some of the speed layer's hours.
	c.Exact = c.ProgressComplete && c.Covered > 0 &&
		c.CoveredNoTTL == 0 && c.CoveredWrongTTL == 0 && c.LaterWithTTL == 0
	return c, nil
}
