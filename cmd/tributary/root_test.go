package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if err := loadRunEnv(path); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("TRIBUTARY_AMQP_URL"); got != "amqp://file" {
		t.Fatalf("TRIBUTARY_AMQP_URL = %q", got)
	}
	if got := os.Getenv("TRIBUTARY_KEY_PREFIX"); got != "set" {
		t.Fatalf("an environment variable was overridden by the file: %q", got)
	}
	if err := loadRunEnv(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("a missing file is not an error: %v", err)
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
