package autoscale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local runs a pool as processes on this machine, the way scripts/cluster.sh
// does: worker i of a pool is the process whose pid is in
// Dir/pids/NAME<i>.pid (speed1, worker2, ...), its output in Dir/logs. It
// sees the processes cluster.sh started, and cluster.sh sees the ones it
// starts (status, kill, down).
type Local struct {
	// Dir is the cluster's directory (.run/cluster).
	Dir string
	// Bin is the tributary binary.
	Bin string
	// Env is the environment of the processes started (the cluster's).
	Env []string
	// Args is the command line (without Bin) of worker i (1-based) of a pool.
	Args func(k Kind, i int) []string
	// StopTimeout is how long a worker has to drain after SIGTERM before
	// SIGKILL (default 30 s): a speed worker flushes and hands its
	// partitions over, a batch worker finishes its tasks.
	StopTimeout time.Duration
	// MaxIndex bounds the worker numbers looked at (default 64).
	MaxIndex int

	mu   sync.Mutex
	kids map[int]chan struct{} // the processes we started, closed once reaped
}

// PoolName is the process name prefix of a pool: the cluster calls its
// batch workers "worker".
func PoolName(k Kind) string {
	if k == Batch {
		return "worker"
	}
	return string(k)
}

func (l *Local) pidFile(k Kind, i int) string {
	return filepath.Join(l.Dir, "pids", PoolName(k)+strconv.Itoa(i)+".pid")
}

func (l *Local) maxIndex() int {
	if l.MaxIndex > 0 {
		return l.MaxIndex
	}
	return 64
}

// pid returns the live process of worker i, 0 if none.
func (l *Local) pid(k Kind, i int) int {
	b, err := os.ReadFile(l.pidFile(k, i))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if l.exited(pid) {
		return 0
	}
	return pid
}

// exited reports whether pid is gone. Our own children are reaped by a
// goroutine (a zombie would still answer signal 0); others are probed.
func (l *Local) exited(pid int) bool {
	l.mu.Lock()
	done, ours := l.kids[pid]
	l.mu.Unlock()
	if ours {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	return syscall.Kill(pid, 0) != nil
}

// Running lists the numbers of the live workers of a pool, in order.
func (l *Local) Running(k Kind) []int {
	var out []int
	for i := 1; i <= l.maxIndex(); i++ {
		if l.pid(k, i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// Current implements Actuator.
func (l *Local) Current(_ context.Context, k Kind) (int, error) {
	if l.Args == nil {
		return 0, errors.New("autoscale: local actuator without Args")
	}
	return len(l.Running(k)), nil
}

// Resize implements Actuator: it starts the lowest free worker numbers, or
// stops the highest running ones (SIGTERM, then SIGKILL after StopTimeout),
// one at a time so that partitions hand over one worker at a time.
func (l *Local) Resize(ctx context.Context, k Kind, n int) error {
	run := l.Running(k)
	for i := 1; len(run) < n && i <= l.maxIndex(); i++ {
		if l.pid(k, i) != 0 {
			continue
		}
		if err := l.start(k, i); err != nil {
			return err
		}
		run = append(run, i)
	}
	if len(run) < n {
		return fmt.Errorf("autoscale: %s pool: no free worker number up to %d", k, l.maxIndex())
	}
	for len(run) > n {
		i := run[len(run)-1]
		if err := l.stop(ctx, k, i); err != nil {
			return err
		}
		run = run[:len(run)-1]
	}
	return nil
}

func (l *Local) start(k Kind, i int) error {
	name := PoolName(k) + strconv.Itoa(i)
	if err := os.MkdirAll(filepath.Join(l.Dir, "logs"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(l.Dir, "pids"), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(l.Dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(l.Bin, l.Args(k, i)...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = l.Dir, l.Env, logf, logf
	// Its own process group: a Ctrl-C to the autoscaler does not stop the
	// workers, and they outlive it (a new leader finds them by pid file).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	l.mu.Lock()
	if l.kids == nil {
		l.kids = map[int]chan struct{}{}
	}
	l.kids[cmd.Process.Pid] = done
	l.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	if err := os.WriteFile(l.pidFile(k, i), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("pid file of %s: %w", name, err)
	}
	return nil
}

func (l *Local) stop(ctx context.Context, k Kind, i int) error {
	pid := l.pid(k, i)
	if pid == 0 {
		return nil
	}
	timeout := l.StopTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s%d: %w", PoolName(k), i, err)
	}
	deadline := time.Now().Add(timeout)
	for !l.exited(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = os.Remove(l.pidFile(k, i))
	return nil
}
