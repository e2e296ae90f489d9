-- graph.lua: prelude of the scripts that act on one graph, whose keys are
-- KEYS[1..10] in this order (Store.graphKeys).
local META, STATE, PENDING, OUT, MSG, RUNNING, ATTEMPT, SPEC, ACTIVE, STATS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]

local function finish(gstate, now)
  finish_graph({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, ACTIVE, STATS, gstate, now)
end

-- cancel_pending applies 'cancel' to every task that allows it (waiting or
-- queued: their queued asynq tasks then find the graph stopped and skip).
local function cancel_pending()
  local all = redis.call('HGETALL', STATE)
  local n = 0
  for i = 1, #all, 2 do
    if can(all[i + 1], 'cancel') then
      transition(STATE, all[i], 'cancel')
      n = n + 1
    end
  end
  if n > 0 then redis.call('HINCRBY', META, 'cancelled', n) end
  return n
end
