-- batch.lua: prelude of the scripts that act on many tasks of any graphs at
-- once. They take the store's key base ("<prefix>:{<prefix>}") as ARGV[1]
-- and derive every key from it instead of taking eleven keys per task; KEYS[1]
-- (the stats hash) only routes the script on a Redis Cluster. Every derived
-- key, and the asynq keys of the inlined enqueue, are in the slot of the
-- hash tag {<prefix>} (state.New, taskq.DefaultQueues).
local P = ARGV[1]
local function gkey(g, part) return P .. ':graph:' .. g .. ':' .. part end
local function rkey(k) return P .. ':result:' .. k end
local PARTS = {'meta', 'state', 'pending', 'out', 'msg', 'running', 'attempt', 'spec'}
local function finish(g, gstate, now)
  local parts = {}
  for i, part in ipairs(PARTS) do parts[i] = gkey(g, part) end
  finish_graph(parts, P .. ':graphs:active', P .. ':stats', gstate, now)
end
