-- common.lua: helpers of every graph script (after transitions.lua).

-- enqueue is asynq v0.26.0's enqueueCmd, inlined so that a state change and
-- the enqueue of the task it made ready are one atomic step. With front (an
-- interactive graph: meta field 'front'), the task goes to the end of the
-- pending list that asynq pops (RPOPLPUSH), ahead of every task already
-- queued: interactive tasks share the default queue, so that workers do not
-- poll an empty queue of their own before every task (taskq.Queues).
local function enqueue(q, tid, msg, now, front)
  local pfx = 'asynq:{' .. q .. '}:'
  if redis.call('EXISTS', pfx .. 't:' .. tid) == 0 then
    redis.call('HSET', pfx .. 't:' .. tid, 'msg', msg, 'state', 'pending', 'pending_since', now)
    if front then
      redis.call('RPUSH', pfx .. 'pending', tid)
    else
      redis.call('LPUSH', pfx .. 'pending', tid)
    end
  end
end

-- is_front reports whether graph meta's tasks are enqueued at the head.
local function is_front(meta) return redis.call('HGET', meta, 'front') == '1' end

-- finish_graph moves a graph (its eight keys, meta first) to final state
-- gstate: out of the active set, counted, and set to expire.
local function finish_graph(parts, active, stats, gstate, now)
  local meta = parts[1]
  redis.call('HSET', meta, 'state', gstate, 'finished', now)
  redis.call('SREM', active, redis.call('HGET', meta, 'id'))
  redis.call('HINCRBY', stats, 'graphs_' .. gstate, 1)
  local ttl = redis.call('HGET', meta, 'gttl')
  if ttl and tonumber(ttl) > 0 then
    for _, k in ipairs(parts) do redis.call('PEXPIRE', k, ttl) end
  end
end

-- ready_dependents is the fan-in after task k of a running graph is done:
-- it decrements its dependents' pending counters and enqueues those whose
-- last dependency this was. Returns how many it enqueued.
local function ready_dependents(meta, state, pending, out, msg, k, now)
  local dsts = redis.call('HGET', out, k)
  if not dsts then return 0 end
  local m = redis.call('HMGET', meta, 'id', 'queue', 'front')
  local gid, q, front = m[1], m[2], m[3] == '1'
  local ready = 0
  for d in string.gmatch(dsts, '[^\n]+') do
    if redis.call('HINCRBY', pending, d, -1) == 0 and transition(state, d, 'ready') then
      enqueue(q, gid .. ':' .. d, redis.call('HGET', msg, d), now, front)
      ready = ready + 1
    end
  end
  return ready
end
