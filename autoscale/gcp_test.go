package autoscale

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGCPCommand checks what the GCP actuator would run and read; it is not
// run against a real project here.
func TestGCPCommand(t *testing.T) {
	dir := t.TempDir()
	g := &GCP{Script: "infra/scripts/infra.sh", TFDir: dir, Default: map[Kind]int{Speed: 2, Batch: 1}}
	ctx := context.Background()
	if got := g.Command(ctx, Batch, 3).Args; !slices.Equal(got, []string{"infra/scripts/infra.sh", "scale", "batch", "3"}) {
		t.Fatalf("command %v", got)
	}
	if n, err := g.Current(ctx, Speed); err != nil || n != 2 {
		t.Fatalf("Current without counts = %d, %v; want the default 2", n, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scale.auto.tfvars.json"), []byte(`{"speed_workers": 5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := g.Current(ctx, Speed); err != nil || n != 5 {
		t.Fatalf("Current = %d, %v; want 5 from scale.auto.tfvars.json", n, err)
	}
	if n, err := g.Current(ctx, Batch); err != nil || n != 1 {
		t.Fatalf("Current batch = %d, %v; want the default 1", n, err)
	}
}
