package amqpconn

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// brokerURL is the project's RabbitMQ (from the environment or .run/env).
func brokerURL(t *testing.T) string {
	t.Helper()
	if v := os.Getenv("TRIBUTARY_AMQP_URL"); v != "" {
		return Split(v)[0]
	}
	b, err := os.ReadFile(filepath.Join("..", "..", ".run", "env"))
	if err != nil {
		t.Fatalf("TRIBUTARY_AMQP_URL unset and no .run/env (run `make services`): %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok && k == "TRIBUTARY_AMQP_URL" {
			return Split(strings.Trim(v, `'"`))[0]
		}
	}
	t.Fatal("TRIBUTARY_AMQP_URL not in .run/env")
	return ""
}

// deadURL is an AMQP URL on a loopback port where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "amqp://u:p@" + addr + "/"
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"amqp://a/", []string{"amqp://a/"}},
		{"amqp://a/, amqp://b/,,amqp://c/", []string{"amqp://a/", "amqp://b/", "amqp://c/"}},
		{" , ", nil},
	}
	for _, tt := range tests {
		if got := Split(tt.in); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := New(" ", "x", nil); err == nil {
		t.Error("New accepted an empty list")
	}
	if _, err := New("amqp://a/,http://b/", "x", nil); err == nil {
		t.Error("New accepted a non-AMQP URL")
	}
	for in, want := range map[string]string{"amqp://user:secret@host:5672/vh": "host:5672/vh", "amqp://u:secret@h:1/%2F": "h:1/%2F"} {
		if got := Redact(in); strings.Contains(got, "secret") || got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDialSkipsDeadNodes puts dead nodes before and after the live one: the
// Dialer reaches the live one, and after a failure starts with the next node.
func TestDialSkipsDeadNodes(t *testing.T) {
	live, dead1, dead2 := brokerURL(t), deadURL(t), deadURL(t)
	d, err := New(strings.Join([]string{dead1, live, dead2}, ","), "amqpconn-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, u, err := d.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if u != live {
		t.Fatalf("connected to %s, want the live node", Redact(u))
	}
	// The live node "failed": the next round starts after it, on dead2,
	// then wraps around to dead1 and the live node again.
	d.Failed(live)
	conn, u, err = d.DialOnce()
	if err != nil || u != live {
		t.Fatalf("second dial: %s %v", Redact(u), err)
	}
	conn.Close()
}

// TestDialGivesUpWithContext: with no node alive, Dial retries until the
// context ends and says why.
func TestDialGivesUpWithContext(t *testing.T) {
	d, err := New(deadURL(t)+","+deadURL(t), "amqpconn-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	d.MinBackoff, d.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _, err = d.Dial(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no broker node answers") {
		t.Fatalf("Dial with every node dead: %v", err)
	}
}
