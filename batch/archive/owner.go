package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	keyspace "github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/membership"
)

// stopGrace bounds how long a stopping archiver waits for its partitions
// and for Redis (releasing leases, leaving): it must exit within 3 s of
// SIGTERM even when Redis or the store hangs. Whatever it had not committed
// is archived again by the next owner, from the committed offset.
const stopGrace = 2 * time.Second

// owner shares the partitions between the live archivers as the speed
// workers do: a heartbeat in a membership zset, the same fair assignment
// computed by every archiver (membership.Assign), a fenced lease per
// partition (internal/lease) that every commit checks in its script. An
// archiver that dies stops renewing: its leases expire within LeaseTTL and
// the others take its partitions from their committed offsets. A paused
// archiver that wakes up finds its lease gone (or another's token) and its
// commit refused, so a cut is never committed twice.
type owner struct {
	cfg     *Config
	keys    keyspace.Keys
	members *membership.Members
	runs    map[int]*partitionRun
	// redisDown is when Redis started failing (zero when it answers), so
	// that an outage is logged when it starts, every 30 s, and when it ends.
	redisDown, lastLogged time.Time
}

// partitionRun is one partition being archived under a lease.
type partitionRun struct {
	grant  lease.Grant
	cancel context.CancelFunc
	done   chan struct{}
}

func newOwner(cfg *Config) (*owner, error) {
	k := keyspace.New(cfg.KeyPrefix)
	m, err := membership.New(cfg.Redis, k.ArchiveMembers(), cfg.ID, cfg.LeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &owner{cfg: cfg, keys: k, members: m, runs: map[int]*partitionRun{}}, nil
}

func (o *owner) run(ctx context.Context) error {
	cfg := o.cfg
	cfg.Log.Info("archiver started", "id", cfg.ID, "lease_ttl", cfg.LeaseTTL, "partitions", cfg.Streams.Partitions)
	metaDone := false
	tick := time.NewTicker(cfg.LeaseTTL / 5)
	defer tick.Stop()
	for {
		if !metaDone {
			metaDone = o.redisOK(cfg.Redis.HSet(ctx, o.keys.ArchiveMeta(), keyspace.FieldStore, cfg.StoreURL,
				keyspace.FieldPartitions, cfg.Streams.Partitions).Err())
		}
		o.round(ctx)
		select {
		case <-ctx.Done():
			o.stop()
			return nil
		case <-tick.C:
		}
	}
}

// round heartbeats, renews the held leases, hands over the partitions now
// assigned to another archiver and takes those assigned to this one.
func (o *owner) round(ctx context.Context) {
	cfg := o.cfg
	for p, r := range o.runs {
		select {
		case <-r.done: // stopped by itself: its lease was lost
			delete(o.runs, p)
		default:
		}
	}
	live, err := o.members.Heartbeat(ctx)
	if !o.redisOK(err) {
		return
	}
	held := make([]int, 0, len(o.runs))
	grants := make([]lease.Grant, 0, len(o.runs))
	for p, r := range o.runs {
		held, grants = append(held, p), append(grants, r.grant)
	}
	still, err := lease.Renew(ctx, cfg.Redis, grants, cfg.LeaseTTL)
	if !o.redisOK(err) {
		return
	}
	for i, p := range held {
		if !still[i] {
			cfg.Metrics.leasesLost.Inc()
			cfg.Log.Warn("archive partition lease lost; stopping it", "partition", p, "token", grants[i].Token)
			o.runs[p].cancel()
			delete(o.runs, p)
		}
	}
	want := membership.Assign(live, cfg.Streams.Partitions)
	for p, r := range o.runs {
		if want[p] != cfg.ID {
			// Hand over: stop the partition, then release its lease so
			// that the new owner need not wait for the TTL. In the
			// background: the round must go on renewing the other leases
			// while a partition closes its broker channel. A commit racing
			// the release is refused by its lease check.
			r.cancel()
			delete(o.runs, p)
			go func() {
				select {
				case <-r.done:
				case <-time.After(stopGrace):
				}
				if err := lease.Release(ctx, cfg.Redis, r.grant); err != nil && ctx.Err() == nil {
					cfg.Log.Warn("archive lease release failed (it expires by itself)", "partition", p, "err", err)
				}
				cfg.Log.Info("archive partition handed over", "partition", p, "to", want[p])
			}()
		}
	}
	for p, who := range want {
		if who != cfg.ID || o.runs[p] != nil {
			continue
		}
		g, err := lease.Acquire(ctx, cfg.Redis, o.keys.ArchiveLease(p), o.keys.ArchiveFence(p), cfg.ID, cfg.LeaseTTL)
		if errors.Is(err, lease.ErrHeld) {
			continue // the previous owner hands it over, or its lease expires
		}
		if !o.redisOK(err) {
			return
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &partitionRun{grant: g, cancel: cancel, done: make(chan struct{})}
		o.runs[p] = r
		cfg.Log.Info("archive partition acquired", "partition", p, "token", g.Token)
		go func() {
			defer close(r.done)
			archivePartition(rctx, cfg, p, g)
		}()
	}
	cfg.Metrics.owned.Set(float64(len(o.runs)))
}

// redisOK logs a Redis outage (when it starts, every 30 s while it lasts,
// when it ends) and reports whether err is nil.
func (o *owner) redisOK(err error) bool {
	now := time.Now()
	if err == nil {
		if !o.redisDown.IsZero() {
			o.cfg.Log.Info("Redis answers again", "down_for", now.Sub(o.redisDown).Round(time.Millisecond))
			o.redisDown = time.Time{}
		}
		return true
	}
	if o.redisDown.IsZero() {
		o.redisDown, o.lastLogged = now, now
		o.cfg.Log.Warn("Redis unreachable: archiving goes on until the leases lapse, commits wait", "err", err)
	} else if now.Sub(o.lastLogged) >= 30*time.Second {
		o.lastLogged = now
		o.cfg.Log.Warn("Redis still unreachable", "down_for", now.Sub(o.redisDown).Round(time.Second), "err", err)
	}
	return false
}

// stop ends every partition and gives the leases and the membership back,
// within stopGrace in all.
func (o *owner) stop() {
	deadline := time.Now().Add(stopGrace)
	for _, r := range o.runs {
		r.cancel()
	}
	for p, r := range o.runs {
		select {
		case <-r.done:
		case <-time.After(time.Until(deadline)):
			o.cfg.Log.Warn("archive partition did not stop in time; exiting anyway", "partition", p)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(500*time.Millisecond))
	defer cancel()
	for _, r := range o.runs {
		_ = lease.Release(ctx, o.cfg.Redis, r.grant)
	}
	_ = o.members.Leave(ctx)
	o.cfg.Metrics.owned.Set(0)
}
