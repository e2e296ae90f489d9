-- Code generated from machine.go by TestTransitionsLuaUpToDate -update; DO NOT EDIT.
-- TS: task state name -> stored code; GS: graph states; NEXT: code -> event -> code.
local TS = {waiting = 'w', queued = 'q', running = 'r', done = 'd', failed = 'f', cancelled = 'c'}
local GS = {submitting = 'submitting', running = 'running', done = 'done', failed = 'failed', cancelled = 'cancelled'}
local NEXT = {
  w = {ready = 'q', cancel = 'c'},
  q = {start = 'r', complete = 'd', fail = 'f', cancel = 'c'},
  r = {start = 'r', complete = 'd', fail = 'f', redispatch = 'q'},
}
-- can reports whether event ev is allowed from stored code st.
local function can(st, ev)
  if not st then return false end
  local row = NEXT[st]
  return row ~= nil and row[ev] ~= nil
end
-- transition applies event ev to task k in state hash H: it returns the new
-- code, or false when the table refuses (the state is left unchanged).
local function transition(H, k, ev)
  local st = redis.call('HGET', H, k)
  if not can(st, ev) then return false end
  local nx = NEXT[st][ev]
  redis.call('HSET', H, k, nx)
  return nx
end
