-- claim creates a graph's meta and spec unless the graph exists.
-- ARGV: id name priority queue total now gttl spec chunk slots (Store.Dispatch)
-- An interactive graph's tasks are enqueued at the head of its queue
-- (front, see enqueue in common.lua).
-- Returns 1 when created, 0 when the graph already existed.
if redis.call('EXISTS', META) == 1 then return 0 end
redis.call('HSET', META, 'id', ARGV[1], 'name', ARGV[2], 'priority', ARGV[3], 'queue', ARGV[4],
  'state', GS.submitting, 'total', ARGV[5], 'done', 0, 'memo', 0, 'failed', 0, 'cancelled', 0,
  'created', ARGV[6], 'gttl', ARGV[7], 'front', ARGV[3] == 'interactive' and 1 or 0,
  'chunk', ARGV[9], 'slots', ARGV[10])
redis.call('SET', SPEC, ARGV[8])
redis.call('SADD', ACTIVE, ARGV[1])
return 1
