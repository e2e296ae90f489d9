-- Gives hour hashes of one partition a TTL, for Expirer (expire.go), and
-- records the coverage duty's progress in the same call.
-- KEYS[1]: the partition's hash; KEYS[2..]: its hour hashes (the partition's
-- hash tag: one Redis Cluster slot).
-- ARGV[1]: the TTL in milliseconds.
-- ARGV[2]: the partition's 'expired' as the caller read it ('' absent), or
--          '*': record no progress and check nothing.
-- ARGV[3]: its 'mintime' as read, checked while 'expired' is absent (the
--          duty then starts from the first event's hour).
-- ARGV[4]: the progress to record: the new 'expired' (the hour after the
--          last one given the TTL), with ARGV[1] as 'expired_grace_ms'.
-- Returns the number of keys given the TTL (those that exist), or -1 when
-- the progress moved since the caller read it (another owner, or an older
-- event's flush lowering 'mintime'): nothing is done, the caller reads
-- again. Expiring and recording in one call leaves no moment when a flush
-- (flush.lua reads 'expired') could create a hash in an hour passed here
-- without either call giving it the TTL.
if ARGV[2] ~= '*' then
  local cur = redis.call('HMGET', KEYS[1], 'expired', 'mintime')
  if (cur[1] or '') ~= ARGV[2] or (ARGV[2] == '' and (cur[2] or '') ~= ARGV[3]) then
    return -1
  end
end
local n = 0
for i = 2, #KEYS do
  n = n + redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
if ARGV[2] ~= '*' then
  redis.call('HSET', KEYS[1], 'expired', ARGV[4], 'expired_grace_ms', ARGV[1])
end
return n
