package testenv

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Proxy is a TCP proxy on loopback in front of a real service, that a test
// can cut: it stands for a broker that goes down and comes back, without
// disturbing the service that other tests share.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

// NewProxy starts a proxy to target (host:port), closed at the end of the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Down()
	})
	return p
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down closes every connection and refuses new ones until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Up accepts connections again.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go cp(c, s)
	go cp(s, c)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// Proxies stand between a Redis client and every node it talks to (one
// server, or each node of a cluster, met as the client discovers them), and
// cut them all at once: a Redis that goes away and comes back.
type Proxies struct {
	t      testing.TB
	mu     sync.Mutex
	byAddr map[string]*Proxy
	down   bool
}

// RedisBehindProxies returns a client of the project's Redis whose every
// connection passes through a Proxy, and the switch of those proxies; the
// client is closed at the end of the test.
func RedisBehindProxies(t testing.TB) (redis.UniversalClient, *Proxies) {
	t.Helper()
	ps := &Proxies{t: t, byAddr: map[string]*Proxy{}}
	c, err := newRedis(RedisURL(t), func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ps.via(addr))
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ps
}

// via returns the address of the proxy to target, started on first use.
func (ps *Proxies) via(target string) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byAddr[target]
	if p == nil {
		p = NewProxy(ps.t, target)
		if ps.down {
			p.Down()
		}
		ps.byAddr[target] = p
	}
	return p.Addr()
}

// Down cuts every proxy until Up.
func (ps *Proxies) Down() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.down = true
	for _, p := range ps.byAddr {
		p.Down()
	}
}

// Up lets every proxy accept connections again.
func (ps *Proxies) Up() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.down = false
	for _, p := range ps.byAddr {
		p.Up()
	}
}
