package view

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/batchkeys"
)

// Manifest describes one version.
type Manifest struct {
	Version int64
	// Boundary is the Unix second (an hour start) before which the version is exact.
	Boundary    int64
	PublishedAt time.Time
	Segments    int64
	Events      int64
	Nodes       []string
}

// ErrStale is returned by Switch when the current version is not older.
var ErrStale = errors.New("a version at least as new is current")

// ErrMissingNode is returned by Switch when a node of the manifest is gone.
var ErrMissingNode = errors.New("node of the new version is missing")

// switchSource is the script that makes a version current; its header
// documents its KEYS, ARGV and replies.
//
//go:embed switch.lua
var switchSource string

var switchScript = redis.NewScript(switchSource)

// switchAttempts bounds the reads of the current version when other
// switches keep changing it.
const switchAttempts = 5

// Switched is what Switch did.
type Switched struct {
	PrevVersion, PrevBoundary int64
}

// Switch makes m the current version in one script (see the package doc).
// The script's keys are all declared (the current version's nodes too, read
// just before): if another switch runs in between, the script refuses and
// Switch reads again.
func Switch(ctx context.Context, rdb redis.Cmdable, keyPrefix string, m Manifest, grace time.Duration) (Switched, error) {
	k := batchkeys.New(keyPrefix)
	var res []any
	for attempt := 0; ; attempt++ {
		cur, err := rdb.HMGet(ctx, k.Current(), batchkeys.FieldVersion, batchkeys.FieldNodes).Result()
		if err != nil {
			return Switched{}, fmt.Errorf("switch to version %d: read the current version: %w", m.Version, err)
		}
		expected, _ := cur[0].(string)
		keys := []string{k.Current(), k.Manifest(m.Version), k.Manifest(m.Version)}
		if expected != "" {
			keys[2] = k.ManifestBase() + expected
		}
		keys = append(keys, m.Nodes...)
		if old, _ := cur[1].(string); old != "" {
			keys = append(keys, strings.Split(old, "\n")...)
		}
		args := []any{m.Version, m.Boundary, m.PublishedAt.UTC().Format(time.RFC3339Nano), m.Segments, m.Events,
			max(grace.Milliseconds(), 1), len(m.Nodes), expected}
		res, err = switchScript.Run(ctx, rdb, keys, args...).Slice()
		if err != nil {
			return Switched{}, fmt.Errorf("switch to version %d: %w", m.Version, err)
		}
		if code, _ := res[0].(int64); code != -2 || attempt == switchAttempts-1 {
			break
		}
	}
	code, _ := res[0].(int64)
	switch code {
	case 0:
		return Switched{}, fmt.Errorf("switch to version %d: %w (version %v)", m.Version, ErrStale, res[1])
	case -1:
		return Switched{}, fmt.Errorf("switch to version %d: %w: %v", m.Version, ErrMissingNode, res[1])
	case -2:
		return Switched{}, fmt.Errorf("switch to version %d: the current version kept changing (%v)", m.Version, res[1])
	}
	pv, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	pb, _ := strconv.ParseInt(fmt.Sprint(res[2]), 10, 64)
	return Switched{PrevVersion: pv, PrevBoundary: pb}, nil
}

// ErrNoView is returned when nothing was published yet.
var ErrNoView = errors.New("no batch view published yet")

// Current reads the current manifest.
func Current(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (Manifest, error) {
	m, err := rdb.HGetAll(ctx, batchkeys.New(keyPrefix).Current()).Result()
	if err != nil {
		return Manifest{}, fmt.Errorf("current batch view: %w", err)
	}
	if len(m) == 0 {
		return Manifest{}, ErrNoView
	}
	return parseManifest(m)
}

func parseManifest(m map[string]string) (Manifest, error) {
	var out Manifest
	var errs []error
	num := func(f string) int64 {
		n, err := strconv.ParseInt(m[f], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return n
	}
	out.Version, out.Boundary = num(batchkeys.FieldVersion), num(batchkeys.FieldBoundary)
	out.Segments, out.Events = num(batchkeys.FieldSegments), num(batchkeys.FieldEvents)
	t, err := time.Parse(time.RFC3339Nano, m[batchkeys.FieldPublishedAt])
	errs = append(errs, err)
	out.PublishedAt = t
	if s := m[batchkeys.FieldNodes]; s != "" {
		out.Nodes = strings.Split(s, "\n")
	}
	if err := errors.Join(errs...); err != nil {
		return Manifest{}, fmt.Errorf("batch view manifest: %w", err)
	}
	return out, nil
}
