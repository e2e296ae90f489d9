package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// python is Debian's interpreter, which owns python3-pika (the first python3
// on PATH may be another one).
const python = "/usr/bin/python3"

func runPublisher(t *testing.T, prefix string, partitions int, events []map[string]any) (stdout, stderr string, err error) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: make deps installs python3-pika", python)
	}
	var in bytes.Buffer
	for _, e := range events {
		b, _ := json.Marshal(e)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(python, "publish.py", "--prefix", prefix, "--partitions", fmt.Sprint(partitions))
	cmd.Env = append(os.Environ(), "TRIBUTARY_AMQP_URL="+testenv.AMQPURL(t))
	cmd.Stdin = &in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func TestPikaPublisherReachesTheOriginsPartition(t *testing.T) {
	conn := testenv.AMQP(t)
	streams := topology.Streams{Prefix: testenv.Prefix(t) + ".flights", Partitions: 8}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = streams.Delete(ch); _ = ch.Close() })

	origins := []string{"ATL", "ORD", "LAX", "DFW", "SFO", "JFK", "BOS", "SEA"}
	var events []map[string]any
	for i, o := range origins {
		events = append(events, map[string]any{
			"id": fmt.Sprintf("py-%04d", i), "time": "2001-01-01T08:05:00Z", "origin": o,
			"destination": "DEN", "delay": i, "distance": 1000, "producer": "py", "seq": i + 1,
		})
	}
	out, errOut, err := runPublisher(t, streams.Prefix, streams.Partitions, events)
	if err != nil {
		t.Fatalf("publish.py: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("published %d events, each confirmed", len(events))) {
		t.Fatalf("publish.py did not report its confirms: %s", errOut)
	}
	// Python's partition function must agree with the pipeline's, event by event.
	for i, o := range origins {
		want := fmt.Sprintf("%s py-%04d", streams.Queue(flight.Partition(o, streams.Partitions)), i)
		if !strings.Contains(out, want+"\n") {
			t.Errorf("origin %s: publish.py said\n%s\nwant the line %q", o, out, want)
		}
	}
	got := map[string]int{}
	for p := 0; p < streams.Partitions; p++ {
		for _, m := range testenv.ReadStream(t, conn, streams.Queue(p), 500*time.Millisecond) {
			var e struct {
				ID     string `json:"id"`
				Origin string `json:"origin"`
			}
			if err := json.Unmarshal(m.Body, &e); err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			if m.ContentType != "application/json" {
				t.Errorf("%s: content type %q", e.ID, m.ContentType)
			}
			if want := flight.Partition(e.Origin, streams.Partitions); want != p {
				t.Errorf("%s (origin %s) stored in partition %d, want %d", e.ID, e.Origin, p, want)
			}
			got[e.ID]++
		}
	}
	for i := range origins {
		if id := fmt.Sprintf("py-%04d", i); got[id] != 1 {
			t.Errorf("%s stored %d times, want once", id, got[id])
		}
	}
}

func TestPikaPublisherFailsOnAnUnroutableQueue(t *testing.T) {
	// No queue is declared under this prefix: with mandatory the broker returns
	// the message and the publisher must fail, not report success.
	prefix := testenv.Prefix(t) + ".nowhere"
	ev := map[string]any{"id": "py-lost", "time": "2001-01-01T08:05:00Z", "origin": "ATL",
		"destination": "LAX", "delay": 1, "distance": 1946}
	_, errOut, err := runPublisher(t, prefix, 8, []map[string]any{ev})
	if err == nil {
		t.Fatalf("publish.py succeeded on a queue that does not exist: %s", errOut)
	}
	if !strings.Contains(errOut, "unroutable") {
		t.Fatalf("publish.py failed without naming the cause: %s", errOut)
	}
}

func TestREADMEShowsThisExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ingest/examples/publish.py", "confirm_delivery()", "mandatory=True"} {
		if !bytes.Contains(readme, []byte(s)) {
			t.Errorf("README.md does not show %q", s)
		}
	}
}
