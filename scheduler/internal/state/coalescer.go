package state

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// Coalescer is how workers start and complete tasks (the only way: there is
// no single-task copy of these scripts). It coalesces the Start and Complete
// calls of concurrent task handlers (the tasks a worker runs at once) into
// one round trip and one script call per batch (start_batch.lua for the
// starts, complete_batch.lua for the completions, step_batch.lua, both in
// turn, for a batch of both): while a batch is in
// flight, the calls that arrive queue up and form the next one. A lone call
// is sent at once (no added latency when idle). The tasks of a batch are
// handled in order, exactly as by as many separate calls. It is safe for
// concurrent use and needs no shutdown (its flusher exits when it has been
// idle for flusherLinger).
type Coalescer struct {
	s *Store
	// Window, if positive, is how long a flush waits for more calls before
	// sending a batch that is not full (more coalescing, more latency). It
	// is waited only under load, when the previous batch had several calls:
	// a lone call is sent at once.
	Window time.Duration
	// MaxBatch bounds the calls of one batch (default 256).
	MaxBatch int
	// MaxBytes bounds the results carried by one batch (default 4 MiB; a
	// larger result goes alone).
	MaxBytes int

	mu    sync.Mutex
	queue []*call
	busy  bool
	idle  bool          // the flusher is waiting for calls (busy too)
	wake  chan struct{} // wakes an idle flusher
	lastN int           // calls in the previous batch
}

// flusherLinger is how long an idle flusher waits for calls before it
// exits. A flusher started per burst cost a goroutine and the growth of its
// stack through go-redis's pipeline for every batch that found the queue
// empty (runtime.newstack and copystack were ~10% of a worker's CPU on
// no-op tasks, docs/benchmarks-scheduler.md); a lingering one is reused.
const flusherLinger = 100 * time.Millisecond

// NewCoalescer returns a coalescer on s.
func (s *Store) NewCoalescer() *Coalescer { return &Coalescer{s: s} }

type call struct {
	p       *taskq.Payload
	attempt int
	worker  string
	// complete only
	complete bool
	result   []byte
	memo     bool

	// outputs
	action string
	deps   [][]byte
	comp   Completion
	err    error
	done   chan struct{}
}

// sourced is a script and its source (redis.Script keeps the source to itself).
type sourced struct {
	src  string
	hash string
}

func newSourced(src string) sourced { return sourced{src: src, hash: redis.NewScript(src).Hash()} }

// Start applies 'start' to attempt of task p for worker and returns the
// action (ActionRun, ActionMemo, ActionSkip) and, for ActionRun, the results
// of its dependencies in order (ErrMissingDep if one expired). It is
// coalesced with concurrent calls.
func (b *Coalescer) Start(ctx context.Context, p *taskq.Payload, attempt int, worker string) (string, [][]byte, error) {
	c := &call{p: p, attempt: attempt, worker: worker, done: make(chan struct{})}
	if err := b.do(ctx, c); err != nil {
		return "", nil, err
	}
	return c.action, c.deps, c.err
}

// Complete stores task p's result (memo: it was found already stored),
// applies 'complete' and enqueues the dependents that became ready (the
// fan-in). It is coalesced with concurrent calls.
func (b *Coalescer) Complete(ctx context.Context, p *taskq.Payload, result []byte, memo bool) (Completion, error) {
	c := &call{p: p, complete: true, result: result, memo: memo, done: make(chan struct{})}
	if err := b.do(ctx, c); err != nil {
		return Completion{}, err
	}
	return c.comp, c.err
}

// StartReq is one task of StartMany.
type StartReq struct {
	P       *taskq.Payload
	Attempt int
	Worker  string // the runner (Runner)
}

// StartRes is what Start returns, for one task of StartMany.
type StartRes struct {
	Action string
	Deps   [][]byte
	Err    error
}

// StartMany is Start for several tasks (a chunk's), queued together so that
// they go in the same batch (unless it would exceed MaxBatch). The error
// is the context's; each task's own is in its StartRes.
func (b *Coalescer) StartMany(ctx context.Context, reqs []StartReq) ([]StartRes, error) {
	calls := make([]*call, len(reqs))
	for i, r := range reqs {
		calls[i] = &call{p: r.P, attempt: r.Attempt, worker: r.Worker, done: make(chan struct{})}
	}
	if err := b.do(ctx, calls...); err != nil {
		return nil, err
	}
	res := make([]StartRes, len(calls))
	for i, c := range calls {
		res[i] = StartRes{Action: c.action, Deps: c.deps, Err: c.err}
	}
	return res, nil
}

// CompleteReq is one task of CompleteMany.
type CompleteReq struct {
	P      *taskq.Payload
	Result []byte
	Memo   bool
}

// CompleteRes is what Complete returns, for one task of CompleteMany.
type CompleteRes struct {
	Completion
	Err error
}

// CompleteMany is Complete for several tasks, queued together (StartMany).
func (b *Coalescer) CompleteMany(ctx context.Context, reqs []CompleteReq) ([]CompleteRes, error) {
	calls := make([]*call, len(reqs))
	for i, r := range reqs {
		calls[i] = &call{p: r.P, complete: true, result: r.Result, memo: r.Memo, done: make(chan struct{})}
	}
	if err := b.do(ctx, calls...); err != nil {
		return nil, err
	}
	res := make([]CompleteRes, len(calls))
	for i, c := range calls {
		res[i] = CompleteRes{Completion: c.comp, Err: c.err}
	}
	return res, nil
}

// do queues calls and waits for their batches. When ctx ends first, the
// calls may still take effect (like a command whose reply was not awaited):
// the caller fails the attempt, and the retry is idempotent.
func (b *Coalescer) do(ctx context.Context, calls ...*call) error {
	b.mu.Lock()
	b.queue = append(b.queue, calls...)
	switch {
	case !b.busy:
		b.busy = true
		if b.wake == nil {
			b.wake = make(chan struct{}, 1)
		}
		go b.flush()
	case b.idle:
		b.idle = false
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	for _, c := range calls {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flush sends batches until the queue is empty.
func (b *Coalescer) flush() {
	maxN, maxBytes := b.MaxBatch, b.MaxBytes
	if maxN <= 0 {
		maxN = 256
	}
	if maxBytes <= 0 {
		maxBytes = 4 << 20
	}
	var linger *time.Timer
	for {
		if b.Window > 0 {
			b.mu.Lock()
			wait := b.lastN > 1 && len(b.queue) < maxN
			b.mu.Unlock()
			if wait {
				time.Sleep(b.Window)
			}
		}
		b.mu.Lock()
		n, size := 0, 0
		for n < len(b.queue) && n < maxN {
			size += len(b.queue[n].result)
			if n > 0 && size > maxBytes {
				break
			}
			n++
		}
		if n == 0 {
			b.lastN = 0
			if b.idle { // lingered without a call: exit
				b.idle = false
				b.busy = false
				b.mu.Unlock()
				return
			}
			b.idle = true
			b.mu.Unlock()
			if linger == nil {
				linger = time.NewTimer(flusherLinger)
			} else {
				linger.Reset(flusherLinger)
			}
			select {
			case <-b.wake:
				linger.Stop()
			case <-linger.C:
			}
			continue
		}
		b.lastN = n
		batch := make([]*call, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.run(batch)
	}
}

// batchTimeout bounds one batch's round trip (its callers may have no deadline).
const batchTimeout = 30 * time.Second

// run sends one batch: the starts and the completions, each as one script
// call, in one pipeline.
func (b *Coalescer) run(batch []*call) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var starts, comps []*call
	sargs := []any{b.s.base}
	cargs := []any{b.s.base, nowNS()}
	for _, c := range batch {
		p := c.p
		if !c.complete {
			starts = append(starts, c)
			sargs = append(sargs, p.Graph, p.Key, c.worker, strconv.Itoa(c.attempt), len(p.Deps))
			for _, d := range p.Deps {
				sargs = append(sargs, d)
			}
			continue
		}
		comps = append(comps, c)
		m := "0"
		if c.memo {
			m = "1"
		}
		ttl := p.ResultTTLMS
		if ttl <= 0 {
			ttl = 24 * 3600 * 1000
		}
		cargs = append(cargs, p.Graph, p.Key, c.result, ttl, m)
	}
	var scmd, ccmd, both *redis.Cmd
	err := runScripts(ctx, b.s.rdb, func(pipe redis.Pipeliner, load bool) {
		// The scripts derive their keys from the base; the stats key,
		// declared, routes them to the slot of them all on a cluster.
		keys := []string{b.s.statsKey()}
		switch {
		case len(starts) > 0 && len(comps) > 0:
			args := make([]any, 0, len(sargs)+len(cargs))
			args = append(append(append(args, sargs[0], len(sargs)-1), sargs[1:]...), cargs[1:]...)
			both = evalIn(ctx, pipe, stepBatchScript, load, keys, args)
		case len(starts) > 0:
			scmd = evalIn(ctx, pipe, startBatchScript, load, keys, sargs)
		default:
			ccmd = evalIn(ctx, pipe, completeBatchScript, load, keys, cargs)
		}
	})
	var srows, cvals []any
	switch {
	case err != nil:
	case both != nil:
		var pair []any
		if pair, err = both.Slice(); err == nil && len(pair) != 2 {
			err = fmt.Errorf("step batch: %d replies", len(pair))
		}
		if err == nil {
			srows, _ = pair[0].([]any)
			cvals, _ = pair[1].([]any)
		}
	case scmd != nil:
		srows, err = scmd.Slice()
	default:
		cvals, err = ccmd.Slice()
	}
	if len(starts) > 0 {
		startResults(starts, srows, err)
	}
	if len(comps) > 0 {
		completeResults(comps, cvals, err)
	}
}

func evalIn(ctx context.Context, pipe redis.Pipeliner, s sourced, load bool, keys []string, args []any) *redis.Cmd {
	if load {
		return pipe.Eval(ctx, s.src, keys, args...)
	}
	return pipe.EvalSha(ctx, s.hash, keys, args...)
}

// runScripts runs the pipeline fill builds with EVALSHA, and again with EVAL
// if Redis did not know a script (restarted, or SCRIPT FLUSH): a NOSCRIPT
// reply means the script did not run, so the second try is safe.
func runScripts(ctx context.Context, rdb redis.UniversalClient, fill func(pipe redis.Pipeliner, load bool)) error {
	var cmds []redis.Cmder
	for _, load := range []bool{false, true} {
		pipe := rdb.Pipeline()
		fill(pipe, load)
		var err error
		cmds, err = pipe.Exec(ctx)
		noScript := false
		for _, c := range cmds {
			if e := c.Err(); e != nil && redis.HasErrorPrefix(e, "NOSCRIPT") {
				noScript = true
			}
		}
		if !noScript {
			return err
		}
	}
	return nil
}

// startResults hands each start call its row of start_batch.lua's reply.
func startResults(calls []*call, rows []any, err error) {
	if err == nil && len(rows) != len(calls) {
		err = fmt.Errorf("start batch: %d replies for %d tasks", len(rows), len(calls))
	}
	for i, c := range calls {
		if err != nil {
			c.err = fmt.Errorf("start %s/%s: %w", c.p.Graph, c.p.Key, err)
		} else {
			row, _ := rows[i].([]any)
			c.action, c.deps, c.err = startReply(c.p, row)
		}
		close(c.done)
	}
}

// startReply decodes the reply of start_batch.lua for task p.
func startReply(p *taskq.Payload, res []any) (string, [][]byte, error) {
	if len(res) == 0 {
		return "", nil, fmt.Errorf("start %s/%s: empty reply", p.Graph, p.Key)
	}
	action, _ := res[0].(string)
	if action != ActionRun {
		return action, nil, nil
	}
	if len(res) != 1+len(p.Deps) {
		return "", nil, fmt.Errorf("start %s/%s: %d replies for %d dependencies", p.Graph, p.Key, len(res)-1, len(p.Deps))
	}
	deps := make([][]byte, len(p.Deps))
	for i := range p.Deps {
		v, ok := res[1+i].(string)
		if !ok {
			return "", nil, fmt.Errorf("task %s/%s: result of %q: %w", p.Graph, p.Key, p.Deps[i], ErrMissingDep)
		}
		deps[i] = []byte(v)
	}
	return action, deps, nil
}

// completeResults hands each completion its pair of complete_batch.lua's
// flattened reply.
func completeResults(calls []*call, vals []any, err error) {
	if err == nil && len(vals) != 2*len(calls) {
		err = fmt.Errorf("complete batch: %d replies for %d tasks", len(vals), len(calls))
	}
	for i, c := range calls {
		if err != nil {
			c.err = fmt.Errorf("complete %s/%s: %w", c.p.Graph, c.p.Key, err)
		} else {
			outcome, _ := vals[2*i].(int64)
			ready, _ := vals[2*i+1].(int64)
			c.comp = Completion{Counted: outcome > 0, Ready: int(ready), GraphDone: outcome == 2}
		}
		close(c.done)
	}
}
