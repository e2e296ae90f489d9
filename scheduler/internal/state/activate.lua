-- activate starts a materialized graph: it applies 'ready' to its root
-- tasks (ARGV[3..]) and enqueues them, and marks it running, or done when
-- memoization left nothing to run. ARGV: id now root...
-- Returns the number of tasks enqueued, or -1 when the graph was not
-- submitting (already activated, or cancelled meanwhile).
if redis.call('HGET', META, 'state') ~= GS.submitting then return -1 end
redis.call('HSET', META, 'state', GS.running, 'started', ARGV[2])
local q, front = redis.call('HGET', META, 'queue'), is_front(META)
local n = 0
for i = 3, #ARGV do
  local k = ARGV[i]
  if transition(STATE, k, 'ready') then
    enqueue(q, ARGV[1] .. ':' .. k, redis.call('HGET', MSG, k), ARGV[2], front)
    n = n + 1
  end
end
if tonumber(redis.call('HGET', META, 'done')) >= tonumber(redis.call('HGET', META, 'total')) then
  finish(GS.done, ARGV[2])
end
return n
