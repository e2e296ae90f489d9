package layering_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/testenv"
)

const module = "github.com/tributary-dev/tributary/"

// goList runs `go list` in the repository with args and returns the lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// forbidden returns the packages of deps under any of the module-relative prefixes.
func forbidden(deps []string, prefixes ...string) []string {
	var bad []string
	for _, d := range deps {
		for _, p := range prefixes {
			if strings.HasPrefix(d, module+p) {
				bad = append(bad, d)
			}
		}
	}
	return bad
}

// TestLayersDoNotImportEachOther: `go list -deps` of one layer holds no
// package of the other, nor does ingest/ import any layer.
func TestLayersDoNotImportEachOther(t *testing.T) {
	for _, tc := range []struct {
		pkgs string
		not  []string
	}{
		{"./batch/...", []string{"speed/"}},
		{"./speed/...", []string{"batch/"}},
		{"./ingest/...", []string{"speed/", "batch/", "serving"}},
	} {
		t.Run(tc.pkgs, func(t *testing.T) {
			// Production code only: batch/batchtest compares both layers on
			// purpose, in its tests.
			if bad := forbidden(goList(t, "-deps", tc.pkgs), tc.not...); len(bad) > 0 {
				t.Fatalf("%s depends on %v", tc.pkgs, bad)
			}
		})
	}
}

// TestServingReadsLayersThroughTheirReaders: serving's code imports, of the
// speed and batch layers, only their reader packages.
func TestServingReadsLayersThroughTheirReaders(t *testing.T) {
	allowed := []string{module + "speed/store", module + "batch/view"}
	for _, imp := range goList(t, "-f", `{{join .Imports "\n"}}`, "./serving/...") {
		if len(forbidden([]string{imp}, "speed/", "batch/")) > 0 && !slices.Contains(allowed, imp) {
			t.Errorf("serving imports %s; it may read the layers only through %v", imp, allowed)
		}
	}
}

// TestCheckCatchesAViolation: the check is not vacuous: cmd/ wires both
// layers, so it must be reported.
func TestCheckCatchesAViolation(t *testing.T) {
	deps := goList(t, "-deps", "./cmd/tributary")
	if len(forbidden(deps, "speed/")) == 0 || len(forbidden(deps, "batch/")) == 0 {
		t.Fatal("the check finds no speed/ or batch/ package in cmd/tributary's dependencies")
	}
}
