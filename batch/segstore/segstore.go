package segstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// Drivers of the object stores that Open accepts.
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)

// ErrNotFound is returned by Get for a missing object.
var ErrNotFound = errors.New("segment not found")

// Store holds immutable objects by name ("p3/….parquet").
type Store interface {
	// Put stores data under name atomically: once Put returns nil the whole
	// object is durable; before, readers see nothing (or the previous
	// object of that name, which for a segment is the same bytes).
	Put(ctx context.Context, name string, data []byte) error
	// Get returns an object's bytes (ErrNotFound if missing).
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names under prefix, sorted. It includes objects that
	// were written but never committed by the archiver: do not use it to
	// decide what the data set holds.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes an object (missing is not an error).
	Delete(ctx context.Context, name string) error
	Close() error
}

// Open opens the store named by rawURL: a plain path or file:///dir for a
// local directory (created if missing), gs://bucket/prefix or
// s3://bucket/prefix?region=… for an object store (credentials from the
// environment, as gocloud.dev's drivers read them).
func Open(ctx context.Context, rawURL string) (Store, error) {
	if rawURL == "" {
		return nil, errors.New("segment store: empty URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:" is a drive, not a scheme
		return OpenLocal(rawURL)
	}
	switch u.Scheme {
	case "file":
		return OpenLocal(u.Path)
	case "gs", "s3":
		b, err := blob.OpenBucket(ctx, rawURL)
		if err != nil {
			return nil, fmt.Errorf("segment store %s: %w", redact(u), err)
		}
		return &Blob{b: b}, nil
	default:
		return nil, fmt.Errorf("segment store %s: scheme %q: want a path, file://, gs:// or s3://", redact(u), u.Scheme)
	}
}

func redact(u *url.URL) string { return u.Redacted() }

// Local is a store in a local directory.
type Local struct{ dir string }

// StaleTemp is the age past which a temporary file of Put is an orphan: a
// writer killed between its creation and its rename. No Put takes that long;
// a younger one may belong to another archiver writing right now.
const StaleTemp = 15 * time.Minute

// OpenLocal opens (creating it if needed) a directory store, and removes the
// orphan temporary files older than StaleTemp.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("segment store: %w", err)
	}
	l := &Local{dir: dir}
	if _, err := l.RemoveOrphans(time.Now().Add(-StaleTemp)); err != nil {
		return nil, err
	}
	return l, nil
}

// RemoveOrphans deletes the temporary files of Put last modified before
// cutoff and returns how many it removed.
func (l *Local) RemoveOrphans(cutoff time.Time) (int, error) {
	n := 0
	err := filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil // gone meanwhile, or young: leave it
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("segment store: remove orphan temporary files: %w", err)
	}
	return n, nil
}

// Dir is the store's directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) path(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("segment store: bad name %q", name)
	}
	return filepath.Join(l.dir, clean), nil
}

// Put writes a temporary file next to the final one, fsyncs it, renames it
// over the final name and fsyncs the directory, so that after a crash the
// name holds either nothing or the whole file.
func (l *Local) Put(_ context.Context, name string, data []byte) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", name, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: sync directory: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get reads a file.
func (l *Local) Get(_ context.Context, name string) ([]byte, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return b, nil
}

// List walks the directory; temporary files are left out.
func (l *Local) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// Delete removes a file.
func (l *Local) Delete(_ context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Close does nothing.
func (l *Local) Close() error { return nil }

// Blob is a store in a gocloud.dev bucket.
type Blob struct{ b *blob.Bucket }

// NewBlob wraps an open bucket (e.g. a fileblob or memblob one in tests).
func NewBlob(b *blob.Bucket) *Blob { return &Blob{b: b} }

// Put uploads the object; the object stores make it visible only when the
// upload completes, so a crash leaves nothing or the whole object.
func (s *Blob) Put(ctx context.Context, name string, data []byte) error {
	w, err := s.b.NewWriter(ctx, name, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get downloads an object.
func (s *Blob) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := s.b.ReadAll(ctx, name)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return b, nil
}

// List lists the objects under prefix.
func (s *Blob) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if !o.IsDir {
			out = append(out, o.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Delete removes an object.
func (s *Blob) Delete(ctx context.Context, name string) error {
	err := s.b.Delete(ctx, name)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Close closes the bucket.
func (s *Blob) Close() error { return s.b.Close() }
