package reconcile

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/view"
)

// WithLoader returns cfg loading the views with load instead of
// view.LoadViews (the tests count the loads).
func WithLoader(cfg Config, load func(ctx context.Context, rdb redis.Cmdable, m view.Manifest, names ...string) (*view.View, error)) Config {
	cfg.loadViews = load
	return cfg
}
