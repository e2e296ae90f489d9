package autoscale

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestLocalStartsAndStops runs real processes: a shell that records the
// SIGTERM it drains on, as a worker would. Worker 1 is started outside the
// actuator, as scripts/cluster.sh does, and is counted and kept.
func TestLocalStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	// The ready file says the trap is set: a SIGTERM that arrives before it
	// would kill the shell without a trace, which is not what is tested.
	script := `trap 'echo drained > "` + dir + `/$0.term"; exit 0' TERM; touch "` + dir + `/$0.ready"; while :; do sleep 0.05; done`
	args := func(k Kind, i int) []string { return []string{"-c", script, PoolName(k) + strconv.Itoa(i)} }
	l := &Local{Dir: dir, Bin: "/bin/sh", Env: os.Environ(), Args: args, StopTimeout: 10 * time.Second}
	ctx := context.Background()
	t.Cleanup(func() { _ = l.Resize(context.Background(), Speed, 0) })

	// Worker 1, started by someone else, with its pid file.
	ext := exec.Command("/bin/sh", args(Speed, 1)...)
	if err := ext.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = ext.Wait() }()
	if err := os.MkdirAll(filepath.Join(dir, "pids"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids", "speed1.pid"), []byte(strconv.Itoa(ext.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Current(ctx, Speed); n != 1 {
		t.Fatalf("Current = %d, want 1 (the external worker)", n)
	}

	if err := l.Resize(ctx, Speed, 3); err != nil {
		t.Fatal(err)
	}
	if got := l.Running(Speed); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("running %v, want [1 2 3]", got)
	}
	pid3 := l.pid(Speed, 3)
	if err := syscall.Kill(pid3, 0); err != nil {
		t.Fatalf("speed3 (pid %d) is not running: %v", pid3, err)
	}
	if n, _ := l.Current(ctx, Batch); n != 0 {
		t.Fatalf("batch pool = %d, want 0: pools are apart", n)
	}

	for _, name := range []string{"speed1", "speed2", "speed3"} {
		waitFile(t, filepath.Join(dir, name+".ready"))
	}

	// Down to 1: the highest numbers go, each drained by SIGTERM.
	if err := l.Resize(ctx, Speed, 1); err != nil {
		t.Fatal(err)
	}
	if got := l.Running(Speed); !slices.Equal(got, []int{1}) {
		t.Fatalf("running %v, want [1]", got)
	}
	for _, name := range []string{"speed2", "speed3"} {
		if _, err := os.Stat(filepath.Join(dir, name+".term")); err != nil {
			t.Errorf("%s was not stopped by SIGTERM: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "pids", name+".pid")); !os.IsNotExist(err) {
			t.Errorf("%s pid file left: %v", name, err)
		}
	}
	if err := syscall.Kill(pid3, 0); err == nil {
		t.Fatalf("speed3 (pid %d) still runs", pid3)
	}
	// The external worker is the last one down, by SIGTERM too.
	if err := l.Resize(ctx, Speed, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "speed1.term")); err != nil {
		t.Fatalf("speed1 was not stopped by SIGTERM: %v", err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s never appeared: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLocalKillsAfterTimeout: a worker that ignores SIGTERM is killed once
// StopTimeout has passed, and the pool still reaches its size.
func TestLocalKillsAfterTimeout(t *testing.T) {
	dir := t.TempDir()
	l := &Local{Dir: dir, Bin: "/bin/sh", Env: os.Environ(), StopTimeout: 300 * time.Millisecond,
		Args: func(Kind, int) []string { return []string{"-c", `trap '' TERM; while :; do sleep 0.05; done`} }}
	ctx := context.Background()
	if err := l.Resize(ctx, Batch, 1); err != nil {
		t.Fatal(err)
	}
	pid := l.pid(Batch, 1)
	if _, err := os.Stat(filepath.Join(dir, "pids", "worker1.pid")); err != nil {
		t.Fatalf("batch worker 1 has no pid file worker1.pid (the cluster's name): %v", err)
	}
	if err := l.Resize(ctx, Batch, 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Current(ctx, Batch); n != 0 {
		t.Fatalf("Current = %d after resize to 0", n)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("pid %d survived SIGKILL", pid)
	}
}
