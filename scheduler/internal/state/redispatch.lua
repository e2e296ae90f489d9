-- redispatch applies 'redispatch' to a task whose worker died and enqueues
-- it under a new asynq task ID, if it still runs on that worker at the
-- expected attempt. ARGV: key worker attempt new_attempt new_task_id msg now.
-- Returns 1 if re-dispatched, 0 otherwise.
if redis.call('HGET', META, 'state') ~= GS.running then return 0 end
if redis.call('HGET', RUNNING, ARGV[1]) ~= ARGV[2] then return 0 end
if not can(redis.call('HGET', STATE, ARGV[1]), 'redispatch') then return 0 end
if (redis.call('HGET', ATTEMPT, ARGV[1]) or '0') ~= ARGV[3] then return 0 end
redis.call('HSET', ATTEMPT, ARGV[1], ARGV[4])
transition(STATE, ARGV[1], 'redispatch')
redis.call('HDEL', RUNNING, ARGV[1])
enqueue(redis.call('HGET', META, 'queue'), ARGV[5], ARGV[6], ARGV[7], is_front(META))
return 1
