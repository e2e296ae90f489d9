package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Kind is the shape of a Redis deployment.
type Kind string

// The kinds of deployment a URL can name.
const (
	Single   Kind = "single"
	Failover Kind = "failover"
	Cluster  Kind = "cluster"
)

// Options is a parsed --redis-url.
type Options struct {
	Kind     Kind
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// Parse parses a Redis URL of any of the three shapes (see the package doc).
func Parse(rawURL string) (*Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	q := u.Query()
	forceCluster := strings.HasSuffix(u.Scheme, "+cluster")
	if forceCluster {
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
	}
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis failover URL: %w", err)
		}
		if o.MasterName == "" {
			return nil, errors.New("redis failover URL: master_name is empty")
		}
		if o.Password == "" && o.Username == "" {
			// One password for the Sentinels and the data nodes, unless
			// the URL sets the latter with username=/password=.
			o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
		}
		return &Options{Kind: Failover, failover: o}, nil
	case forceCluster || q.Has("addr"):
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		return &Options{Kind: Cluster, cluster: o}, nil
	default:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		return &Options{Kind: Single, single: o}, nil
	}
}

// SetPoolSize raises the connection pool (per node) to at least n.
func (o *Options) SetPoolSize(n int) {
	switch o.Kind {
	case Single:
		o.single.PoolSize = max(o.single.PoolSize, n)
	case Failover:
		o.failover.PoolSize = max(o.failover.PoolSize, n)
	case Cluster:
		o.cluster.PoolSize = max(o.cluster.PoolSize, n)
	}
}

// String names the deployment without its password, for logs and errors.
func (o *Options) String() string {
	switch o.Kind {
	case Failover:
		return fmt.Sprintf("sentinel master %q via %s db %d", o.failover.MasterName, strings.Join(o.failover.SentinelAddrs, ","), o.failover.DB)
	case Cluster:
		return "cluster " + strings.Join(o.cluster.Addrs, ",")
	default:
		return fmt.Sprintf("%s db %d", o.single.Addr, o.single.DB)
	}
}

// NewUniversal returns a client of the deployment: a *redis.Client for one
// server, a failover *redis.Client for Sentinel (which follows failovers), a
// *redis.ClusterClient for a cluster. Every role takes it as a
// redis.UniversalClient; their scripts' keys share one hash slot (see
// docs/operations.md, "Redis Cluster").
func (o *Options) NewUniversal() redis.UniversalClient {
	switch o.Kind {
	case Cluster:
		return redis.NewClusterClient(o.cluster)
	case Failover:
		return redis.NewFailoverClient(o.failover)
	default:
		return redis.NewClient(o.single)
	}
}

// Asynq returns asynq's connection options for the same deployment; asynq
// opens (and closes) its own clients from them.
func (o *Options) Asynq() asynq.RedisConnOpt {
	switch o.Kind {
	case Failover:
		f := o.failover
		return asynq.RedisFailoverClientOpt{MasterName: f.MasterName, SentinelAddrs: f.SentinelAddrs,
			SentinelUsername: f.SentinelUsername, SentinelPassword: f.SentinelPassword, Username: f.Username,
			Password: f.Password, DB: f.DB, DialTimeout: f.DialTimeout, ReadTimeout: f.ReadTimeout,
			WriteTimeout: f.WriteTimeout, PoolSize: f.PoolSize, TLSConfig: f.TLSConfig}
	case Cluster:
		c := o.cluster
		return asynq.RedisClusterClientOpt{Addrs: c.Addrs, MaxRedirects: c.MaxRedirects, Username: c.Username,
			Password: c.Password, DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
			TLSConfig: c.TLSConfig}
	default:
		s := o.single
		return asynq.RedisClientOpt{Network: s.Network, Addr: s.Addr, Username: s.Username, Password: s.Password,
			DB: s.DB, DialTimeout: s.DialTimeout, ReadTimeout: s.ReadTimeout, WriteTimeout: s.WriteTimeout,
			PoolSize: s.PoolSize, TLSConfig: s.TLSConfig}
	}
}

// Ping checks that the deployment answers within timeout.
func Ping(ctx context.Context, c redis.UniversalClient, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Open parses rawURL, connects and checks that Redis answers.
func Open(ctx context.Context, rawURL string, poolSize int) (redis.UniversalClient, *Options, error) {
	o, err := Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	o.SetPoolSize(poolSize)
	c := o.NewUniversal()
	if err := Ping(ctx, c, 5*time.Second); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("redis (%s) does not answer: %w", o, err)
	}
	return c, o, nil
}
