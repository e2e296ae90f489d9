-- Applies one partition's flush atomically (see flush.go for the argument layout).
-- KEYS[1] lease, KEYS[2] partition hash, KEYS[3] quarantine list, KEYS[4..] hour hashes:
-- all the partition's, under its hash tag (one Redis Cluster slot).
-- The values are absolute (the owner holds the state of its buckets), so the
-- script only checks the fence and sets fields: no read-modify-write.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0, 'lease'}
end
local part = KEYS[2]
local cur = redis.call('HMGET', part, 'offset', 'token', 'expired', 'expired_grace_ms')
local off = cur[1] or '-1'
if off ~= ARGV[3] then
  -- A client that lost the reply (Redis restarting, failing over) may send
  -- the same flush again: the partition then holds this flush's new offset
  -- and token. Acknowledge it without applying it twice, rather than
  -- reporting a lost lease.
  if off == ARGV[4] and cur[2] == ARGV[2] and ARGV[3] ~= ARGV[4] then
    return {1, 'already applied'}
  end
  return {0, 'offset ' .. off .. ' expected ' .. ARGV[3]}
end
if cur[2] and tonumber(cur[2]) > tonumber(ARGV[2]) then
  return {0, 'token ' .. cur[2]}
end
local ttl = tonumber(ARGV[6])
-- The hours before 'expired' the batch layer covers and the coverage duty
-- (speed/coverage.go) has passed: a hash written there again (a gap filled
-- late) gets the covered TTL here, since the duty will not come back to it.
local covered = tonumber(cur[3]) or 0
local grace = tonumber(cur[4]) or 0
local qcap = tonumber(ARGV[7])
local nseq = tonumber(ARGV[12])
local i = 15
for _ = 1, nseq do
  redis.call('HSET', part, 's:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = #ARGV
while i <= n do
  local op = ARGV[i]
  local k = KEYS[tonumber(ARGV[i + 1])]
  local m = tonumber(ARGV[i + 2])
  if op == 'V' then
    -- the hash's hour, then m field/value pairs: the buckets' packed
    -- absolute states
    redis.call('HSET', k, unpack(ARGV, i + 4, i + 3 + 2 * m))
    if ttl > 0 then
      redis.call('PEXPIRE', k, ttl)
    elseif grace > 0 and tonumber(ARGV[i + 3]) < covered then
      redis.call('PEXPIRE', k, grace)
    end
    i = i + 4 + 2 * m
  else
    -- Q: m quarantine entries (RPUSH, capped)
    redis.call('RPUSH', k, unpack(ARGV, i + 3, i + 2 + m))
    redis.call('LTRIM', k, -qcap, -1)
    i = i + 3 + m
  end
end
redis.call('HSET', part, 'offset', ARGV[4], 'token', ARGV[2], 'maxtime', ARGV[5])
local mint = tonumber(ARGV[14])
if mint > 0 then
  local cur = redis.call('HGET', part, 'mintime')
  if not cur or tonumber(cur) > mint then
    redis.call('HSET', part, 'mintime', ARGV[14])
  end
end
-- A committed flush proves ownership: extend the lease, so that renewals
-- queued behind long scripts on a busy Redis do not let it lapse.
if tonumber(ARGV[13]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[13])
end
redis.call('HINCRBY', part, 'applied', ARGV[8])
redis.call('HINCRBY', part, 'late', ARGV[9])
redis.call('HINCRBY', part, 'duplicates', ARGV[10])
redis.call('HINCRBY', part, 'quarantined', ARGV[11])
return {1, 'ok'}
