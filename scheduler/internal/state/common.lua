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

-- pb_varint, pb_bytes and pb_uint write protobuf wire fields (field
-- numbers below 16: one-byte tags), for the chunk messages below.
local function pb_varint(n)
  local b = {}
  while n >= 128 do
    b[#b + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  b[#b + 1] = string.char(n)
  return table.concat(b)
end
local function pb_bytes(num, s) return string.char(num * 8 + 2) .. pb_varint(#s) .. s end
local function pb_uint(num, n) return string.char(num * 8) .. pb_varint(n) end

-- enqueue_ready enqueues the ready tasks keys (a list) of the graph whose
-- meta and msg hashes are given, in chunks (taskq's chunk payload: one
-- asynq task carries several tasks of the graph, each its own message, to
-- amortise asynq's dequeue and done and the workers' state round trips
-- over them). The chunk size is min(meta 'chunk', ceil(#keys / meta
-- 'slots')): the ready tasks are spread over all the workers' asynq slots
-- first, so that long tasks still run in parallel; a graph without 'chunk'
-- (or 'chunk' 1) is dispatched one task per asynq task, as before. A chunk
-- is the asynq message taskq.DecodeChunk reads: ID "graph:firstkey@c" (a
-- key has no '@'), type taskq.TypeTask, retry the graph's largest
-- ('rmax'), timeout its largest task timeout ('tmax', seconds) times the
-- chunk's size (a backstop: workers time each task out themselves).
local function enqueue_ready(meta, msg, keys, now)
  local n = #keys
  if n == 0 then return end
  local m = redis.call('HMGET', meta, 'id', 'queue', 'front', 'chunk', 'slots', 'tmax', 'rmax')
  local gid, q, front = m[1], m[2], m[3] == '1'
  local size = math.min(tonumber(m[4]) or 1, math.ceil(n / math.max(tonumber(m[5]) or 1, 1)))
  if size <= 1 then
    for _, k in ipairs(keys) do enqueue(q, gid .. ':' .. k, redis.call('HGET', msg, k), now, front) end
    return
  end
  -- ceil(n / size) chunks of near-equal sizes.
  local nch = math.ceil(n / size)
  local tmax, rmax = tonumber(m[6]) or 1, tonumber(m[7]) or 0
  local i = 1
  for c = 1, nch do
    local sz = math.floor((n - i + 1) / (nch - c + 1))
    if sz <= 1 then
      enqueue(q, gid .. ':' .. keys[i], redis.call('HGET', msg, keys[i]), now, front)
    else
      local msgs = redis.call('HMGET', msg, unpack(keys, i, i + sz - 1))
      local p = {'\2', pb_bytes(1, gid)}
      for j = 1, sz do p[#p + 1] = pb_bytes(2, msgs[j]) end
      local tid = gid .. ':' .. keys[i] .. '@c'
      enqueue(q, tid, table.concat({pb_bytes(1, 'tributary:task'), pb_bytes(2, table.concat(p)), pb_bytes(3, tid),
        pb_bytes(4, q), pb_uint(5, rmax), pb_uint(8, sz * tmax)}), now, front)
    end
    i = i + sz
  end
end

-- ready_dependents is the fan-in after task k of a running graph is done:
-- it decrements its dependents' pending counters, applies 'ready' to those
-- whose last dependency this was and appends them to list ready (the
-- caller enqueues them, enqueue_ready). Returns how many became ready.
local function ready_dependents(state, pending, out, k, ready)
  local dsts = redis.call('HGET', out, k)
  if not dsts then return 0 end
  local n = 0
  for d in string.gmatch(dsts, '[^\n]+') do
    if redis.call('HINCRBY', pending, d, -1) == 0 and transition(state, d, 'ready') then
      ready[#ready + 1] = d
      n = n + 1
    end
  end
  return n
end
