-- fail applies 'fail' to a task: if the graph was running, the graph fails
-- with the task's error and every task that allows 'cancel' (its waiting
-- dependents among them) is cancelled. ARGV: key error now.
-- Returns 1 when the graph failed now, 0 otherwise.
if not transition(STATE, ARGV[1], 'fail') then return 0 end
redis.call('HDEL', RUNNING, ARGV[1])
redis.call('HINCRBY', META, 'failed', 1)
if redis.call('HGET', META, 'state') ~= GS.running then return 0 end
redis.call('HSET', META, 'error', ARGV[2], 'error_key', ARGV[1])
cancel_pending()
finish(GS.failed, ARGV[3])
return 1
