package autoscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// GCP resizes the worker pools of the GCP deployment through
// infra/scripts/infra.sh scale KIND N, which drains the workers it removes
// (SIGTERM) and applies Terraform. It has not been run against a real
// project from this repository's tests: only its command line is.
type GCP struct {
	// Script is infra/scripts/infra.sh; TFDir is infra/terraform, where
	// infra.sh keeps the counts (scale.auto.tfvars.json).
	Script, TFDir string
	// Default is the pool size before any scale (the deployment size's).
	Default map[Kind]int
}

// Current implements Actuator: the count infra.sh last applied.
func (g *GCP) Current(_ context.Context, k Kind) (int, error) {
	b, err := os.ReadFile(filepath.Join(g.TFDir, "scale.auto.tfvars.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return g.Default[k], nil
	}
	if err != nil {
		return 0, err
	}
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("scale.auto.tfvars.json: %w", err)
	}
	if n, ok := m[string(k)+"_workers"]; ok {
		return n, nil
	}
	return g.Default[k], nil
}

// Command is the command line Resize runs.
func (g *GCP) Command(ctx context.Context, k Kind, n int) *exec.Cmd {
	return exec.CommandContext(ctx, g.Script, "scale", string(k), strconv.Itoa(n))
}

// Resize implements Actuator.
func (g *GCP) Resize(ctx context.Context, k Kind, n int) error {
	cmd := g.Command(ctx, k, n)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("infra.sh scale %s %d: %w", k, n, err)
	}
	return nil
}
