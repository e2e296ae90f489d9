package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// WorkerInfo is what a live worker advertises.
type WorkerInfo struct {
	ID        string   `json:"id"`
	Host      string   `json:"host"`
	PID       int      `json:"pid"`
	Functions []string `json:"functions"`
	Queues    []string `json:"queues"`
	// Concurrency is the tasks (asynq slots) the worker holds at once: the
	// scheduler sizes chunks on the sum over live workers (Dispatch).
	Concurrency int       `json:"concurrency,omitempty"`
	Started     time.Time `json:"started"`
}

// Advertise records that worker w is alive for ttl; workers call it well
// within ttl (a heartbeat). The scheduler refuses graphs naming functions no
// live worker advertises, and re-dispatches the tasks of workers whose
// advertisement expired.
func (s *Store) Advertise(ctx context.Context, w *WorkerInfo, ttl time.Duration) error {
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("advertise worker: %w", err)
	}
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, s.workerKey(w.ID), b, ttl)
	pipe.SAdd(ctx, s.workersKey(), w.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("advertise worker %s: %w", w.ID, err)
	}
	return nil
}

// Withdraw removes worker id's advertisement (on a clean shutdown).
func (s *Store) Withdraw(ctx context.Context, id string) error {
	pipe := s.rdb.Pipeline()
	pipe.Del(ctx, s.workerKey(id))
	pipe.SRem(ctx, s.workersKey(), id)
	_, err := pipe.Exec(ctx)
	if err != nil {
		return fmt.Errorf("withdraw worker %s: %w", id, err)
	}
	return nil
}

// LiveWorkers returns the workers whose advertisement has not expired, and
// forgets the others.
func (s *Store) LiveWorkers(ctx context.Context) ([]WorkerInfo, error) {
	ids, err := s.rdb.SMembers(ctx, s.workersKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// One GET per worker in a pipeline, not one MGET: the advertisements
	// are in different Redis Cluster slots.
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, s.workerKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("workers: %w", err)
	}
	vals := make([]any, len(ids))
	for i, g := range gets {
		if g.Err() == nil {
			vals[i] = g.Val()
		}
	}
	var live []WorkerInfo
	var dead []any
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			dead = append(dead, ids[i])
			continue
		}
		var w WorkerInfo
		if err := json.Unmarshal([]byte(str), &w); err == nil {
			live = append(live, w)
		}
	}
	if len(dead) > 0 {
		s.rdb.SRem(ctx, s.workersKey(), dead...)
	}
	return live, nil
}

// WorkerAlive reports whether worker id's advertisement is live.
func (s *Store) WorkerAlive(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.workerKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("worker %s: %w", id, err)
	}
	return n == 1, nil
}
