-- cancel stops a graph that is submitting or running: its pending tasks
-- are cancelled, and the keys of the running ones and their runners are
-- returned so that the caller can ask asynq to cancel them. ARGV: now reason.
-- Returns {state_before, key, runner, key, runner...}; state_before is 'missing' for an
-- unknown graph.
local gs = redis.call('HGET', META, 'state')
if not gs then return {'missing'} end
if gs ~= GS.running and gs ~= GS.submitting then return {gs} end
cancel_pending()
redis.call('HSET', META, 'error', ARGV[2])
finish(GS.cancelled, ARGV[1])
local r = {gs}
for _, v in ipairs(redis.call('HGETALL', RUNNING)) do r[#r + 1] = v end
return r
