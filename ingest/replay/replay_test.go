package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/replay"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// expected reads rows [0, n) of the data set straight from the file: per
// partition, the event IDs in file order and their origins.
func expected(t *testing.T, n int64, partitions int) [][]flight.Event {
	t.Helper()
	f, err := dataset.Open(testenv.DataFile(t, "flights-3m.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make([][]flight.Event, partitions)
	err = f.Scan(context.Background(), 0, n, func(b *dataset.Batch) error {
		for _, e := range b.Events {
			p := flight.Partition(e.Origin, partitions)
			out[p] = append(out[p], e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type streamed struct {
	offset int64
	e      flight.Event
}

// readBack decodes every event of every partition's stream.
func readBack(t *testing.T, s topology.Streams) [][]streamed {
	t.Helper()
	conn := testenv.AMQP(t)
	out := make([][]streamed, s.Partitions)
	var wg sync.WaitGroup
	for p := 0; p < s.Partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range testenv.ReadStream(t, conn, s.Queue(p), 1500*time.Millisecond) {
				events, err := wire.Decode(nil, m.ContentType, m.Body)
				if err != nil {
					t.Errorf("partition %d offset %d: %v", p, m.Offset, err)
					return
				}
				// The producer's clock (stream.ClockHeader) is at or
				// after every event of its message: the speed layer
				// measures the future bound from it.
				clock := stream.Clock(&amqp.Delivery{Headers: m.Headers})
				for _, e := range events {
					if e.Time > clock {
						t.Errorf("partition %d offset %d: event time %d after the message's clock %d", p, m.Offset, e.Time, clock)
						return
					}
					out[p] = append(out[p], streamed{m.Offset, e})
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func newStreams(t *testing.T) topology.Streams {
	s := topology.Streams{Prefix: testenv.Prefix(t), Partitions: 8}
	t.Cleanup(func() {
		conn := testenv.AMQP(t)
		ch, err := conn.Channel()
		if err == nil {
			_ = s.Delete(ch)
		}
	})
	return s
}

func TestReplayPutsEveryEventInItsPartitionInOrder(t *testing.T) {
	for _, enc := range []string{replay.EncodingArrow, replay.EncodingJSON} {
		t.Run(enc, func(t *testing.T) {
			const n = 100_000
			limit := int64(n)
			if enc == replay.EncodingJSON {
				limit = 20_000 // one message per event: keep the test short
			}
			s := newStreams(t)
			res, err := replay.Run(context.Background(), replay.Config{
				DataPath: testenv.DataFile(t, "flights-3m.parquet"), Streams: s, AMQPURL: testenv.AMQPURL(t),
				Redis: testenv.Redis(t), KeyPrefix: s.Prefix, Limit: limit, Encoding: enc,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Confirmed != limit || res.EndRow != limit {
				t.Fatalf("result %+v, want %d confirmed events", res, limit)
			}
			want := expected(t, limit, s.Partitions)
			got := readBack(t, s)
			total := 0
			for p := range got {
				total += len(got[p])
				if len(got[p]) != len(want[p]) {
					t.Fatalf("partition %d holds %d events, want %d", p, len(got[p]), len(want[p]))
				}
				for i, g := range got[p] {
					w := want[p][i]
					if g.e.ID != w.ID || g.e.Origin != w.Origin || g.e.Time != w.Time || g.e.Delay != w.Delay || g.e.Destination != w.Destination || g.e.Distance != w.Distance {
						t.Fatalf("partition %d event %d: got %+v want %+v", p, i, g.e, w)
					}
					if flight.Partition(g.e.Origin, s.Partitions) != p {
						t.Fatalf("event %s of %s in partition %d", g.e.ID, g.e.Origin, p)
					}
					if g.e.Seq != uint64(i+1) || g.e.Producer != "replay" {
						t.Fatalf("partition %d event %d has producer %q seq %d, want replay/%d", p, i, g.e.Producer, g.e.Seq, i+1)
					}
					if i > 0 && g.e.Time < got[p][i-1].e.Time {
						t.Fatalf("partition %d goes back in time at event %d", p, i)
					}
				}
			}
			if total != int(limit) {
				t.Fatalf("streams hold %d events, want %d", total, limit)
			}
		})
	}
}

// checkComplete asserts that the streams hold every event of rows [0, n):
// each (partition, seq) at least once, duplicates identical, nothing else.
func checkComplete(t *testing.T, s topology.Streams, n int64) (dups int) {
	t.Helper()
	want := expected(t, n, s.Partitions)
	got := readBack(t, s)
	for p := range want {
		seen := make(map[uint64]flight.Event)
		for _, g := range got[p] {
			if prev, ok := seen[g.e.Seq]; ok {
				if prev != g.e {
					t.Fatalf("partition %d seq %d carries two events: %+v and %+v", p, g.e.Seq, prev, g.e)
				}
				dups++
				continue
			}
			seen[g.e.Seq] = g.e
		}
		if len(seen) != len(want[p]) {
			t.Fatalf("partition %d holds %d distinct seqs, want %d", p, len(seen), len(want[p]))
		}
		for i, w := range want[p] {
			g, ok := seen[uint64(i+1)]
			if !ok || g.ID != w.ID {
				t.Fatalf("partition %d seq %d: got %+v (present %v), want event %s", p, i+1, g, ok, w.ID)
			}
		}
	}
	return dups
}

func TestReplaySIGKILLedAndRestartedLosesNothing(t *testing.T) {
	const n = 200_000
	bin := testenv.Binary(t)
	s := newStreams(t)
	run := func(speed string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "replay", "--data", testenv.DataFile(t, "flights-3m.parquet"), "--speed", speed,
			"--limit", fmt.Sprint(n), "--stream-prefix", s.Prefix, "--key-prefix", s.Prefix, "--metrics-addr", "",
			"--checkpoint-every", "100ms")
		cmd.Env = append(os.Environ(), "TRIBUTARY_REDIS_URL="+testenv.RedisURL(t), "TRIBUTARY_AMQP_URL="+testenv.AMQPURL(t))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	// 200,000 flights span about 12 days: at 250,000x the replay takes about
	// 4 s. Each kill comes at a random moment after the replayer's first
	// checkpoint (on a loaded machine its start alone can take seconds; a kill
	// before any checkpoint would test nothing of resuming).
	checkpoint := fmt.Sprintf("%s:replay:replay:%s", s.Prefix, s.Prefix)
	rdb := testenv.Redis(t)
	for kill := 0; kill < 2; kill++ {
		before, _ := rdb.Get(context.Background(), checkpoint).Result()
		cmd, out := run("250000")
		deadline := time.Now().Add(time.Minute)
		for {
			if now, _ := rdb.Get(context.Background(), checkpoint).Result(); now != "" && now != before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replayer saved no checkpoint within a minute:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if !strings.Contains(out.String(), "replay starting") {
			t.Fatalf("the replayer did not start:\n%s", out)
		}
		if strings.Contains(out.String(), "replay done") {
			t.Fatalf("the replay finished before it was killed; the test kills nothing:\n%s", out)
		}
	}
	cmd, out := run("max")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the last replay failed: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "resuming from checkpoint") {
		t.Fatalf("the restarted replay did not resume:\n%s", out)
	}
	dups := checkComplete(t, s, n)
	t.Logf("%d duplicate events after two SIGKILLs, each with the seq of its original", dups)
}

func TestReplaySurvivesBrokerOutage(t *testing.T) {
	const n = 150_000
	s := newStreams(t)
	amqpURL, err := url.Parse(testenv.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, amqpURL.Host)
	amqpURL.Host = proxy.Addr()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	m := replay.NewMetrics(nil)
	done := make(chan error, 1)
	go func() {
		_, err := replay.Run(context.Background(), replay.Config{
			DataPath: testenv.DataFile(t, "flights-3m.parquet"), Streams: s, AMQPURL: amqpURL.String(),
			Redis: testenv.Redis(t), KeyPrefix: s.Prefix, Limit: n, Speed: 250_000, BatchEvents: 100,
			Log: log, Metrics: m,
		})
		done <- err
	}()
	for i := 0; i < 2; i++ {
		time.Sleep(700 * time.Millisecond)
		proxy.Down()
		time.Sleep(1500 * time.Millisecond)
		proxy.Up()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the replay did not finish after the broker came back")
	}
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	for _, want := range []string{"lost the broker", "broker unreachable, retrying", "reconnected to the broker"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the logs do not say %q:\n%s", want, text)
		}
	}
	dups := checkComplete(t, s, n)
	t.Logf("%d duplicate events after two outages", dups)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestReplayRidesOutRedisLoss cuts Redis (the checkpoint's store) twice during
// a replay whose broker list starts with a dead node: the replay goes on,
// says so, saves its checkpoint once Redis is back, and every event is in
// the streams.
func TestReplayRidesOutRedisLoss(t *testing.T) {
	const n = 150_000
	s := newStreams(t)
	rdb, proxy := testenv.RedisBehindProxies(t) // every node of a cluster behind its proxy
	dead := testenv.NewProxy(t, "127.0.0.1:1")
	dead.Down()
	amqpList := "amqp://u:p@" + dead.Addr() + "/," + testenv.AMQPURL(t)

	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	m := replay.NewMetrics(nil)
	done := make(chan error, 1)
	go func() {
		_, err := replay.Run(context.Background(), replay.Config{
			DataPath: testenv.DataFile(t, "flights-3m.parquet"), Streams: s, AMQPURL: amqpList,
			Redis: rdb, KeyPrefix: s.Prefix, Limit: n, Speed: 250_000, BatchEvents: 100, CheckpointEvery: 50 * time.Millisecond,
			Log: log, Metrics: m,
		})
		done <- err
	}()
	for i := 0; i < 2; i++ {
		time.Sleep(700 * time.Millisecond)
		proxy.Down()
		time.Sleep(3500 * time.Millisecond)
		proxy.Up()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the replay did not finish after Redis came back")
	}
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	if !strings.Contains(text, "cannot save the replay checkpoint") {
		t.Fatalf("the replay never met the Redis outage (make the outage longer?):\n%s", text)
	}
	var cp replay.Checkpoint
	b, err := testenv.Redis(t).Get(context.Background(), fmt.Sprintf("%s:replay:replay:%s", s.Prefix, s.Prefix)).Bytes()
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Row != n {
		t.Fatalf("checkpoint %s (%v), want row %d", b, err, n)
	}
	checkComplete(t, s, n)
}
