package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// completeLinger is how long a finished member of a chunk waits for its
// siblings before its completion is sent: the no-op members of a chunk
// finish within microseconds of each other and complete in one batch,
// while a long member's result (and its dependents) is held up at most
// this long.
const completeLinger = 2 * time.Millisecond

// member is one task of a chunk.
type member struct {
	p     *taskq.Payload
	retry int // its retry policy: how many failed attempts are retried
}

// memberDone is how a member ended.
type memberDone struct {
	p       *taskq.Payload
	res     []byte
	memo    bool
	failed  error // failed for good: recorded with Fail
	stopped error // interrupted by the chunk's context (cancel, shutdown)
	start   time.Time
}

// processChunk runs the tasks of a chunk (taskq.DecodeChunk), one asynq
// task carrying several tasks of one graph: they are started in one batch
// (each as its own task of the state machine: a member already done, or
// re-dispatched alone after this worker was taken for dead, is skipped),
// run on the worker's run slots (Parallelism, shared with every other task
// held), each under its own timeout and retry policy, and completed in
// batches as they finish. A member that fails for good fails its graph as
// a task run alone would; a member that fails and may retry is retried
// here, after the same backoff as asynq's, without holding a run slot, and
// its siblings are not affected. The chunk returns an error (asynq retries
// it; its done members are then skipped) only when the state machine could
// not be reached, or when its context ended (cancelled, or shutdown).
func (w *Worker) processChunk(ctx context.Context, payload []byte) error {
	graphID, msgs, err := taskq.DecodeChunk(payload)
	if err != nil {
		w.m.tasks.WithLabelValues("", outcomeInternal).Inc()
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	members := make([]member, len(msgs))
	chunkID, _ := asynq.GetTaskID(ctx)
	runner := scheduler.Runner(w.cfg.ID, chunkID)
	reqs := make([]scheduler.StartReq, len(msgs))
	for i, m := range msgs {
		p, err := taskq.DecodePayload(m.Payload)
		if err == nil && p.Graph != graphID {
			err = fmt.Errorf("chunk of graph %s holds a task of graph %s", graphID, p.Graph)
		}
		if err != nil {
			w.m.tasks.WithLabelValues("", outcomeInternal).Inc()
			return fmt.Errorf("chunk %s: %w: %w", chunkID, err, asynq.SkipRetry)
		}
		members[i] = member{p: p, retry: m.Retry}
		// Only tasks dispatched for the first time are chunked (a
		// re-dispatched task goes alone, with its attempt in its ID).
		reqs[i] = scheduler.StartReq{P: p, Attempt: 0, Worker: runner}
	}
	starts, err := w.rec.StartMany(ctx, reqs)
	if err != nil {
		w.m.tasks.WithLabelValues("", outcomeInternal).Add(float64(len(members)))
		return err
	}
	done := make(chan memberDone, len(members))
	n := 0 // members whose end is awaited on done
	var chunkErr error
	for i, st := range starts {
		p := members[i].p
		switch {
		case errors.Is(st.Err, scheduler.ErrMissingDep):
			if err := w.recordFail(ctx, p, st.Err); err != nil {
				chunkErr = err
			}
			continue
		case st.Err != nil:
			w.m.tasks.WithLabelValues(p.Func, outcomeInternal).Inc()
			chunkErr = st.Err
			continue
		case st.Action == scheduler.ActionSkip:
			w.m.tasks.WithLabelValues(p.Func, outcomeSkipped).Inc()
			continue
		case st.Action == scheduler.ActionMemo:
			done <- memberDone{p: p, memo: true}
			n++
			continue
		}
		fn, ok := w.reg.Lookup(p.Func)
		if !ok {
			if err := w.recordFail(ctx, p, Permanent(fmt.Errorf("function %q is not registered in worker %s", p.Func, w.cfg.ID))); err != nil {
				chunkErr = err
			}
			continue
		}
		n++
		go func(m member, deps [][]byte) { done <- w.runMember(ctx, fn, m, deps) }(members[i], st.Deps)
	}
	if err := w.collect(ctx, done, n); err != nil {
		chunkErr = err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return chunkErr
}

// runMember runs member m until it succeeds, fails for good (permanent
// error, or its retries spent), or the chunk's context ends.
func (w *Worker) runMember(ctx context.Context, fn Func, m member, deps [][]byte) memberDone {
	p := m.p
	for retried := 0; ; retried++ {
		select { // a run slot (Parallelism)
		case w.run <- struct{}{}:
		case <-ctx.Done():
			return memberDone{p: p, stopped: ctx.Err()}
		}
		start := time.Now()
		w.m.running.Inc()
		res, err := w.call(ctx, fn, p, deps, retried)
		w.m.running.Dec()
		<-w.run
		switch {
		case err == nil:
			return memberDone{p: p, res: res, start: start}
		case ctx.Err() != nil:
			return memberDone{p: p, stopped: err}
		case errors.Is(err, ErrPermanent) || retried >= m.retry:
			return memberDone{p: p, failed: err}
		}
		w.m.tasks.WithLabelValues(p.Func, outcomeRetry).Inc()
		w.log.Debug("task failed, will retry", "graph", p.Graph, "key", p.Key, "retried", retried, "err", err)
		t := time.NewTimer(w.cfg.RetryDelay(retried))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return memberDone{p: p, stopped: ctx.Err()}
		}
	}
}

// collect receives the ends of n members and records them: completions in
// batches (the members that finish within completeLinger of the first of
// a batch), final failures one by one. It returns an error when the state
// machine could not be reached (asynq then retries the chunk).
func (w *Worker) collect(ctx context.Context, done <-chan memberDone, n int) error {
	var batch []memberDone
	var firstErr error
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var flushC <-chan time.Time
	flush := func() {
		timer.Stop()
		flushC = nil
		if len(batch) == 0 {
			return
		}
		reqs := make([]scheduler.CompleteReq, len(batch))
		for i, d := range batch {
			reqs[i] = scheduler.CompleteReq{P: d.p, Result: d.res, Memo: d.memo}
		}
		// Not cancelled with the chunk: a member that finished counts
		// (the state machine accepts it even if its graph was cancelled).
		res, batchErr := w.rec.CompleteMany(context.WithoutCancel(ctx), reqs)
		for i, d := range batch {
			err := batchErr
			if err == nil {
				err = res[i].Err
			}
			switch {
			case err != nil:
				// asynq retries the chunk; Start lets the same dispatch run again.
				w.m.tasks.WithLabelValues(d.p.Func, outcomeInternal).Inc()
				firstErr = firstOf(firstErr, err)
			case d.memo:
				w.m.tasks.WithLabelValues(d.p.Func, outcomeMemo).Inc()
			default:
				w.m.duration.WithLabelValues(d.p.Func).Observe(time.Since(d.start).Seconds())
				if res[i].Counted {
					w.m.tasks.WithLabelValues(d.p.Func, outcomeDone).Inc()
				} else {
					w.m.tasks.WithLabelValues(d.p.Func, outcomeDupe).Inc()
				}
			}
		}
		batch = batch[:0]
	}
	for ; n > 0; n-- {
		var d memberDone
		select {
		case d = <-done:
		case <-flushC:
			flush()
			d = <-done
		}
		switch {
		case d.failed != nil:
			if err := w.recordFail(ctx, d.p, d.failed); err != nil {
				firstErr = firstOf(firstErr, err)
			}
		case d.stopped != nil:
			// The chunk's context ended: asynq requeues it (shutdown) or
			// the graph stopped (cancel); either way not a task failure.
		default:
			batch = append(batch, d)
			if flushC == nil {
				timer.Reset(completeLinger)
				flushC = timer.C
			}
		}
	}
	flush()
	return firstErr
}

// firstOf returns a if it is not nil, else b.
func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
