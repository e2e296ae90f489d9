package taskq

import (
	"context"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// DeleteQueues deletes asynq queues with every task in them and forgets them
// (tests and benchmarks clean up their own queues this way).
func DeleteQueues(ctx context.Context, rdb redis.UniversalClient, queues []string) {
	ins := asynq.NewInspectorFromRedisClient(rdb)
	for _, q := range queues {
		_ = ins.DeleteQueue(q, true)
		rdb.SRem(ctx, AllQueuesKey, q)
	}
}
