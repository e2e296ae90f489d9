-- switch: make a new version of the batch view current, in one step (see the
-- package doc of batch/view).
-- KEYS[1] the current manifest (B:{view}:current), KEYS[2] the new version's
-- manifest, KEYS[3] the current version's manifest (KEYS[2] again when there
-- is none), then the new version's n node keys, then the current version's
-- node keys: every key is declared, and all share the {view} hash tag (one
-- Redis Cluster slot).
-- ARGV version, boundary, published_at, segments, events, grace_ms, n (the
-- number of new node keys), expected (the current version the caller read,
-- "" for none).
-- Returns {1, prev_version, prev_boundary}, {0, current} when a version at
-- least as new is current, {-1, node} when a node of the new version is
-- missing, {-2, current} when the current version is not the expected one
-- (another switch ran between the caller's read and this script: read again).
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return {0, cur} end
if (cur or '') ~= ARGV[8] then return {-2, cur or ''} end
local n = tonumber(ARGV[7])
local new = {}
local nodes = {}
for i = 4, 3 + n do
  if redis.call('EXISTS', KEYS[i]) == 0 then return {-1, KEYS[i]} end
  new[KEYS[i]] = true
  nodes[#nodes + 1] = KEYS[i]
end
for i = 4, 3 + n do redis.call('PERSIST', KEYS[i]) end
local fields = {'version', ARGV[1], 'boundary', ARGV[2], 'published_at', ARGV[3], 'segments', ARGV[4], 'events', ARGV[5], 'nodes', table.concat(nodes, '\n')}
local prevb = '0'
if cur then
  prevb = redis.call('HGET', KEYS[1], 'boundary') or '0'
  for i = 4 + n, #KEYS do
    if not new[KEYS[i]] then redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
return {1, cur or '0', prevb}
