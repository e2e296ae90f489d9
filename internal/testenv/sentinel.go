package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelSet is a private Redis primary, one replica and three Sentinels
// (master name "m", quorum 2, primary down after 1 s) on loopback ports
// base .. base+4, in a temporary directory, stopped at the end of the test.
// Each test that starts one asks for a port range of its own: packages'
// tests run in parallel (make test's ranges are listed in
// docs/operations.md). A range that another process holds (two runs of the
// tests at once, from two clones) is replaced by a free one, and every
// process of the set is checked to be the one that answers on its port.
type SentinelSet struct {
	t     testing.TB
	dir   string
	base  int
	pw    string
	procs map[int]*exec.Cmd
}

// StartSentinelSet starts the five processes and waits until each answers.
func StartSentinelSet(t testing.TB, base int) *SentinelSet {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-sentinel"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it): %v", bin, err)
		}
	}
	base = freePorts(t, base, 5)
	s := &SentinelSet{t: t, dir: t.TempDir(), base: base, pw: "testpw", procs: map[int]*exec.Cmd{}}
	t.Cleanup(func() {
		for _, c := range s.procs {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	for i := 0; i < 2; i++ {
		port := base + i
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nrequirepass %s\nmasterauth %s\nsave \"\"\nappendonly no\n",
			port, s.dir, s.pw, s.pw)
		if i == 1 {
			conf += fmt.Sprintf("replicaof 127.0.0.1 %d\n", base)
		}
		conf += fmt.Sprintf("dbfilename dump-%d.rdb\n", port)
		s.start(port, "redis-server", conf)
	}
	for i := 2; i < 5; i++ {
		port := base + i
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nrequirepass %s\n"+
			"sentinel monitor m 127.0.0.1 %d 2\nsentinel auth-pass m %s\n"+
			"sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n", port, s.dir, s.pw, base, s.pw)
		s.start(port, "redis-sentinel", conf)
	}
	return s
}

func (s *SentinelSet) start(port int, bin, conf string) {
	s.t.Helper()
	path := filepath.Join(s.dir, strconv.Itoa(port)+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, path)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.procs[port] = cmd
	c := s.Direct(port)
	defer c.Close()
	for i := 0; ; i++ {
		if info, err := c.Info(context.Background(), "server").Result(); err == nil {
			// Another run's server on the same port would answer to the
			// same password: the set must be ours.
			if pid := infoField(info, "process_id"); pid != strconv.Itoa(cmd.Process.Pid) {
				s.t.Fatalf("port %d answers as process %s, not the %s just started (%d): another process took the port", port, pid, bin, cmd.Process.Pid)
			}
			return
		}
		if i == 100 {
			s.t.Fatalf("%s on port %d does not answer", bin, port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// infoField is the value of one field of an INFO reply ("" if absent).
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// freePorts returns the first of n consecutive loopback ports on which
// nothing listens: want's range when free, else a random one in
// [20000, 30000).
func freePorts(t testing.TB, want, n int) int {
	t.Helper()
	for try := range 50 {
		base := want
		if try > 0 {
			base = 20000 + rand.IntN(10000-n)
		}
		if portsFree(base, n) {
			if base != want {
				t.Logf("ports %d-%d are taken: the Sentinel set uses %d-%d", want, want+n-1, base, base+n-1)
			}
			return base
		}
	}
	t.Fatalf("no %d free consecutive ports found", n)
	return 0
}

// portsFree reports whether the n ports from base can be listened on.
func portsFree(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// Base is the port of the first primary; Base()+1 is the replica.
func (s *SentinelSet) Base() int { return s.base }

// URL is go-redis's failover URL of the set (what --redis-url takes).
func (s *SentinelSet) URL() string {
	return fmt.Sprintf("redis://:%s@127.0.0.1:%d/0?master_name=m&addr=127.0.0.1:%d&addr=127.0.0.1:%d",
		s.pw, s.base+2, s.base+3, s.base+4)
}

// Direct is a plain client of one process of the set, closed by the caller.
func (s *SentinelSet) Direct(port int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Password: s.pw})
}

// Lag cuts the replica from the primary: a wrong masterauth and its
// replication link killed, so that it misses every write made from now on
// while it stays a healthy replica for the Sentinels (a replica disconnected
// for a few seconds is still promoted). It returns once the primary sees no
// replica.
func (s *SentinelSet) Lag(ctx context.Context) {
	s.t.Helper()
	r, p := s.Direct(s.base+1), s.Direct(s.base)
	defer r.Close()
	defer p.Close()
	if err := r.ConfigSet(ctx, "masterauth", "wrong-password").Err(); err != nil {
		s.t.Fatal(err)
	}
	if err := r.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		s.t.Fatal(err)
	}
	for i := 0; ; i++ {
		info, err := p.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "connected_slaves:0\r\n") {
			return
		}
		if i == 200 {
			s.t.Fatalf("the primary still has a replica after the cut: %s %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// KillPrimary SIGKILLs the first primary and waits until its replica is
// promoted (it answers as a master and takes writes). The replica's
// masterauth is set right first, so that a Lag'ged replica can be promoted
// and later followed. It returns how long the promotion took.
func (s *SentinelSet) KillPrimary(ctx context.Context) time.Duration {
	s.t.Helper()
	r := s.Direct(s.base + 1)
	defer r.Close()
	if err := r.ConfigSet(ctx, "masterauth", s.pw).Err(); err != nil {
		s.t.Fatal(err)
	}
	primary := s.procs[s.base]
	if err := primary.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	_ = primary.Wait()
	delete(s.procs, s.base)
	start := time.Now()
	for {
		info, err := r.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "role:master\r\n") {
			return time.Since(start)
		}
		if ctx.Err() != nil {
			s.t.Fatalf("the replica was not promoted within %v: %s %v", time.Since(start), info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
