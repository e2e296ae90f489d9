package segstore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/segstore"
)

// TestOrphanTempFilesRemoved: the temporary files a killed writer left behind
// are removed when the store is opened once they are old enough; a young one
// (another writer's, in progress) and the segments stay.
func TestOrphanTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	st, err := segstore.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), "p0/seg-1.parquet", []byte("segment")); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "p0", ".tmp-seg-2.parquet-123")
	young := filepath.Join(dir, "p0", ".tmp-seg-3.parquet-456")
	for _, f := range []string{old, young} {
		if err := os.WriteFile(f, []byte("half a segment"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-segstore.StaleTemp - time.Minute)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := segstore.OpenLocal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the orphan is still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("a young temporary file was removed: %v", err)
	}
	names, err := st.List(context.Background(), "p0/")
	if err != nil || !slices.Equal(names, []string{"p0/seg-1.parquet"}) {
		t.Fatalf("segments %v %v", names, err)
	}
}
