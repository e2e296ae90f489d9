package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestFlagsFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		wantErr bool
	}{
		{"default", nil, nil, "d", false},
		{"environment", map[string]string{"TRIBUTARY_REDIS_URL": "from-env"}, nil, "from-env", false},
		{"command line wins", map[string]string{"TRIBUTARY_REDIS_URL": "from-env"}, []string{"--redis-url", "cli"}, "cli", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// make test exports the services' settings: start from none.
			for _, k := range []string{"TRIBUTARY_REDIS_URL", "TRIBUTARY_PARTITIONS"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			got := fs.String("redis-url", "d", "")
			fs.Int("partitions", 8, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := bindEnv(fs); (err != nil) != tt.wantErr {
				t.Fatalf("bindEnv: %v", err)
			}
			if *got != tt.want {
				t.Fatalf("redis-url = %q, want %q", *got, tt.want)
			}
		})
	}
	t.Run("bad value names the variable", func(t *testing.T) {
		t.Setenv("TRIBUTARY_PARTITIONS", "eight")
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.Int("partitions", 8, "")
		err := bindEnv(fs)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_PARTITIONS") {
			t.Fatalf("bindEnv = %v, want an error naming TRIBUTARY_PARTITIONS", err)
		}
	})
}

func TestLoadRunEnvDoesNotOverride(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "env")
	if err := os.WriteFile(path, []byte("export TRIBUTARY_AMQP_URL='amqp://file'\nexport TRIBUTARY_KEY_PREFIX='file'\nexport OTHER=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRIBUTARY_KEY_PREFIX", "set")
	t.Setenv("TRIBUTARY_AMQP_URL", "")
	os.Unsetenv("TRIBUTARY_AMQP_URL")
	if found, err := loadRunEnv(path); err != nil || !found {
		t.Fatal(found, err)
	}
	if got := os.Getenv("TRIBUTARY_AMQP_URL"); got != "amqp://file" {
		t.Fatalf("TRIBUTARY_AMQP_URL = %q", got)
	}
	if got := os.Getenv("TRIBUTARY_KEY_PREFIX"); got != "set" {
		t.Fatalf("an environment variable was overridden by the file: %q", got)
	}
	if found, err := loadRunEnv(filepath.Join(dir, "missing")); err != nil || found {
		t.Fatalf("a missing file is not an error, and not found: %v %v", found, err)
	}
}

// TestNoSettingsHint runs a command from a directory without .run/env and
// with no connection setting: its error says what to set and where .run/env
// is read from; with a setting given, no hint.
func TestNoSettingsHint(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      map[string]string
		runEnv   bool
		wantHint bool
	}{
		{"nothing", nil, false, true},
		{"environment", map[string]string{"TRIBUTARY_AMQP_URL": "amqp://x:y@127.0.0.1:1/%2F"}, false, false},
		{"run env file", nil, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"TRIBUTARY_REDIS_URL", "TRIBUTARY_AMQP_URL"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			if tt.runEnv {
				if err := os.MkdirAll(filepath.Join(dir, ".run"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, ".run", "env"), []byte("export TRIBUTARY_REDIS_URL='redis://127.0.0.1:1/0'\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			failing := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return errors.New("dial tcp: connection refused") }}
			root := newRootCmd(failing)
			root.SetArgs([]string{"fail", "--log-level", "error"})
			err := root.Execute()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			hasHint := strings.Contains(msg, "--amqp-url (or $TRIBUTARY_AMQP_URL)") && strings.Contains(msg, "--redis-url (or $TRIBUTARY_REDIS_URL)") &&
				strings.Contains(msg, ".run/env") && strings.Contains(msg, "read from the current directory, here "+dir)
			if hasHint != tt.wantHint || !strings.Contains(msg, "connection refused") {
				t.Fatalf("error %q: hint %v, want %v", msg, hasHint, tt.wantHint)
			}
		})
	}
}

func TestSpeedFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{{"max", 0, true}, {"86400", 86400, true}, {"0.5", 0.5, true}, {"0", 0, false}, {"-3", 0, false}, {"fast", 0, false}} {
		var s speedFlag = 1
		err := s.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && float64(s) != tt.want) {
			t.Errorf("Set(%q) = %v, %v", tt.in, float64(s), err)
		}
	}
}
