-- switch: make a new version of the batch view current, in one step (see the
-- package doc of batch/view).
-- KEYS[1] the current manifest (B:current), KEYS[2] the new version's manifest (B:v<N>).
-- ARGV version, boundary, published_at, segments, events, grace_ms, base (the
-- key prefix of manifests, "<B>v"), then the node keys of the new version.
-- The node keys are named in ARGV, not KEYS: on a Redis Cluster they would
-- need a single-slot key layout (docs/conventions.md).
-- Returns {1, prev_version, prev_boundary}, {0, current} when a version at
-- least as new is current, {-1, node} when a node of the new version is missing.
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return {0, cur} end
local new = {}
for i = 8, #ARGV do
  if redis.call('EXISTS', ARGV[i]) == 0 then return {-1, ARGV[i]} end
  new[ARGV[i]] = true
end
for i = 8, #ARGV do redis.call('PERSIST', ARGV[i]) end
local nodes = table.concat(ARGV, '\n', 8)
local fields = {'version', ARGV[1], 'boundary', ARGV[2], 'published_at', ARGV[3], 'segments', ARGV[4], 'events', ARGV[5], 'nodes', nodes}
local prevb = '0'
if cur then
  prevb = redis.call('HGET', KEYS[1], 'boundary') or '0'
  local old = redis.call('HGET', KEYS[1], 'nodes') or ''
  for k in string.gmatch(old, '[^\n]+') do
    if not new[k] then redis.call('PEXPIRE', k, ARGV[6]) end
  end
  redis.call('PEXPIRE', ARGV[7] .. cur, ARGV[6])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
return {1, cur or '0', prevb}
