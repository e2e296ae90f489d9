-- complete_batch is the fan-in, for each task of a batch in order: it
-- stores the task's result, applies 'complete', and if the graph is running
-- enqueues the dependents that became ready and finishes the graph after its
-- last task, all atomically, so that no central process is needed between
-- two tasks. ARGV: prefix now, then per task: graph key result ttl_ms
-- memo(0|1). Returns {outcome, ready} per task, flattened: outcome 0
-- duplicate (refused) or graph stopped, 1 done, 2 done and the graph
-- finished. The cluster-wide counters are written once per batch.
local now = ARGV[2]
local out = {}
local readies, order = {}, {} -- graph -> tasks made ready (enqueued at the end, in chunks)
local ndone, nmemo = 0, 0
local i = 3
while i <= #ARGV do
  local g, k, res, ttl, memo = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  local outcome, ready = 0, 0
  if memo ~= '1' then redis.call('SET', rkey(k), res, 'PX', ttl) end
  local STATE, META = gkey(g, 'state'), gkey(g, 'meta')
  if transition(STATE, k, 'complete') then
    redis.call('HDEL', gkey(g, 'running'), k)
    local done = redis.call('HINCRBY', META, 'done', 1)
    ndone = ndone + 1
    if memo == '1' then
      redis.call('HINCRBY', META, 'memo', 1)
      nmemo = nmemo + 1
    end
    local m = redis.call('HMGET', META, 'state', 'total')
    if m[1] == GS.running then
      outcome = 1
      if not readies[g] then
        readies[g] = {}
        order[#order + 1] = g
      end
      ready = ready_dependents(STATE, gkey(g, 'pending'), gkey(g, 'out'), k, readies[g])
      if done >= tonumber(m[2]) then
        finish(g, GS.done, now)
        outcome = 2
      end
    end
  end
  out[#out + 1] = outcome
  out[#out + 1] = ready
end
-- A graph cannot finish with tasks ready, so each graph of order is still
-- running here.
for _, g in ipairs(order) do enqueue_ready(gkey(g, 'meta'), gkey(g, 'msg'), readies[g], now) end
if ndone > 0 then redis.call('HINCRBY', P .. ':stats', 'tasks_done', ndone) end
if nmemo > 0 then redis.call('HINCRBY', P .. ':stats', 'tasks_memoized', nmemo) end
return out
