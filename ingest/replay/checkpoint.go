package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Checkpoint is how far a replay got: every row before Row is confirmed, and
// Seq[p] is the last seq given to partition p before Row.
type Checkpoint struct {
	Row        int64    `json:"row"`
	Seq        []uint64 `json:"seq"`
	Partitions int      `json:"partitions"`
	// FileRows identifies the data set, as a guard against resuming over another file.
	FileRows int64 `json:"file_rows"`
}

type checkpoints struct {
	rdb redis.UniversalClient
	key string
}

func (c checkpoints) load(ctx context.Context) (*Checkpoint, error) {
	b, err := c.rdb.Get(ctx, c.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load replay checkpoint %s: %w", c.key, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("replay checkpoint %s is corrupt: %w", c.key, err)
	}
	return &cp, nil
}

func (c checkpoints) save(ctx context.Context, cp *Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := c.rdb.Set(ctx, c.key, b, 0).Err(); err != nil {
		return fmt.Errorf("save replay checkpoint: %w", err)
	}
	return nil
}

func (c checkpoints) reset(ctx context.Context) error {
	return c.rdb.Del(ctx, c.key).Err()
}
