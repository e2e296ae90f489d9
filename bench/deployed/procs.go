package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procs starts the roles and short commands of a run, each with its log in
// dir, and remembers every process's peak RSS.
type procs struct {
	dir string
	env []string
	// extra is more environment for the processes whose name starts with
	// a prefix (a run's second set of roles on other streams and keys).
	extra map[string][]string
	live  []*proc
	// peak is the peak RSS in MB of each role or command, by name; a name
	// used several times (runs) keeps its largest.
	peak map[string]float64
}

// proc is a long-lived role (scheduler, worker, speed, archive, serve).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newProcs(dir string, env []string) *procs {
	return &procs{dir: dir, env: env, peak: map[string]float64{}}
}

func (ps *procs) command(ctx context.Context, name, bin string, args []string) (*exec.Cmd, *os.File, error) {
	logf, err := os.Create(filepath.Join(ps.dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = ps.env
	for prefix, env := range ps.extra {
		if strings.HasPrefix(name, prefix) {
			cmd.Env = append(slices.Clip(cmd.Env), env...) // the last value of a variable wins
		}
	}
	cmd.Stderr = logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	return cmd, logf, nil
}

// setEnv adds env to the environment of the processes named prefix...
func (ps *procs) setEnv(prefix string, env []string) {
	if ps.extra == nil {
		ps.extra = map[string][]string{}
	}
	ps.extra[prefix] = env
}

// start starts a long-lived role in the background.
func (ps *procs) start(name, bin string, args ...string) (*proc, error) {
	cmd, logf, err := ps.command(context.Background(), name, bin, args)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	ps.live = append(ps.live, p)
	return p, nil
}

// alive fails if a role has exited.
func (ps *procs) alive() error {
	for _, p := range ps.live {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (see %s)", p.name, p.err, filepath.Join(ps.dir, p.name+".log"))
		default:
		}
	}
	return nil
}

// stop reads the role's peak RSS, then ends it (SIGTERM, SIGKILL after 15 s).
func (ps *procs) stop(p *proc) {
	if mb, ok := vmHWM(p.cmd.Process.Pid); ok {
		ps.note(p.name, mb)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	ps.noteExited(p.name, p.cmd.ProcessState)
	for i, q := range ps.live {
		if q == p {
			ps.live = append(ps.live[:i], ps.live[i+1:]...)
			break
		}
	}
}

// stopAll stops every live role, in reverse order of start.
func (ps *procs) stopAll() {
	for len(ps.live) > 0 {
		ps.stop(ps.live[len(ps.live)-1])
	}
}

// result is what a short command did.
type result struct {
	stdout  []byte
	seconds float64
	start   time.Time
	end     time.Time
}

// run runs a short command to its end (or timeout) and returns its stdout.
func (ps *procs) run(name string, timeout time.Duration, bin string, args ...string) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, logf, err := ps.command(ctx, name, bin, args)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	var out bytes.Buffer
	cmd.Stdout = &out
	r := &result{start: time.Now()}
	err = cmd.Run()
	r.end = time.Now()
	r.seconds = r.end.Sub(r.start).Seconds()
	r.stdout = out.Bytes()
	fmt.Fprintf(logf, "\n--- stdout ---\n%s", out.Bytes())
	ps.noteExited(name, cmd.ProcessState)
	if err != nil {
		// Not the arguments: redis-benchmark's carry the Redis password.
		return r, fmt.Errorf("%s (%s): %w (see %s)", name, filepath.Base(bin), err, logf.Name())
	}
	return r, nil
}

func (ps *procs) note(name string, mb float64) {
	ps.peak[name] = max(ps.peak[name], mb)
}

// noteExited records the peak RSS of an ended process from its rusage
// (ru_maxrss, in KiB on Linux).
func (ps *procs) noteExited(name string, st *os.ProcessState) {
	if st == nil {
		return
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 0 {
		ps.note(name, float64(ru.Maxrss)/1024)
	}
}

// byName is the live role of that name, nil if none.
func (ps *procs) byName(name string) *proc {
	for _, p := range ps.live {
		if p.name == name {
			return p
		}
	}
	return nil
}

// vmHWM is a live process's peak resident set (VmHWM), in MB.
func vmHWM(pid int) (float64, bool) {
	m, ok := procStatus(pid, "VmHWM")
	return m["VmHWM"], ok
}

// vmRSS is a live process's resident set now (VmRSS) and its peak (VmHWM), in MB.
func vmRSS(pid int) (rss, hwm float64, ok bool) {
	m, ok := procStatus(pid, "VmRSS", "VmHWM")
	return m["VmRSS"], m["VmHWM"], ok
}

// procStatus reads fields in kB of /proc/PID/status, in MB; ok when all were read.
func procStatus(pid int, fields ...string) (map[string]float64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !slices.Contains(fields, k) {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
		if err != nil {
			return nil, false
		}
		out[k] = kb / 1024
	}
	return out, len(out) == len(fields)
}
