-- activate starts a materialized graph: it applies 'ready' to its root
-- tasks (ARGV[3..]) and enqueues them, and marks it running, or done when
-- memoization left nothing to run. ARGV: id now root...
-- Returns the number of tasks enqueued, or -1 when the graph was not
-- submitting (already activated, or cancelled meanwhile).
if redis.call('HGET', META, 'state') ~= GS.submitting then return -1 end
redis.call('HSET', META, 'state', GS.running, 'started', ARGV[2])
local ready = {}
for i = 3, #ARGV do
  if transition(STATE, ARGV[i], 'ready') then ready[#ready + 1] = ARGV[i] end
end
enqueue_ready(META, MSG, ready, ARGV[2])
local n = #ready
if tonumber(redis.call('HGET', META, 'done')) >= tonumber(redis.call('HGET', META, 'total')) then
  finish(GS.done, ARGV[2])
end
return n
