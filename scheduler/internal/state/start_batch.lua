-- start_batch decides, for each task of a batch in order, whether its
-- dispatch runs, and hands it its dependencies' results in the same round
-- trip. ARGV: prefix, then per task: graph key worker attempt ndeps dep...
-- Returns one {action, dep results...} per task; action is 'run' (the task
-- is now running), 'memo' (its result exists: complete it without running)
-- or 'skip' (the graph stopped, the task refuses 'start', or this is a stale
-- dispatch of a re-dispatched task).
local out = {}
local gstate = {} -- graph -> its state: start changes no graph's state
local i = 2
while i <= #ARGV do
  local g, k, w, att, nd = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local d0 = i + 5
  i = d0 + nd
  local STATE = gkey(g, 'state')
  local r
  if gstate[g] == nil then gstate[g] = redis.call('HGET', gkey(g, 'meta'), 'state') end
  if gstate[g] ~= GS.running then
    r = {'skip'}
  elseif not can(redis.call('HGET', STATE, k), 'start') then
    r = {'skip'}
  elseif (redis.call('HGET', gkey(g, 'attempt'), k) or '0') ~= att then
    r = {'skip'}
  elseif redis.call('EXISTS', rkey(k)) == 1 then
    r = {'memo'}
  else
    transition(STATE, k, 'start')
    redis.call('HSET', gkey(g, 'running'), k, w)
    r = {'run'}
    for j = d0, d0 + nd - 1 do r[#r + 1] = redis.call('GET', rkey(ARGV[j])) end
  end
  out[#out + 1] = r
end
return out
