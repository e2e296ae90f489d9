-- Commits one cut: KEYS partition hash, segments zset,
-- quarantine list, the partition's lease. ARGV: expected previous offset,
-- new offset, maxtime, events, duplicates, quarantined, segment name (""
-- for none), first offset, quarantine cap, attempt id, lease value, n_seqs,
-- then producer, dedup mark pairs, then quarantine entries.
-- Returns 1, 2 when this very commit was applied already, 0 when the
-- committed offset is not the expected one, -1 when the lease is not held
-- (expired, or taken by another archiver: fencing).
if redis.call('GET', KEYS[4]) ~= ARGV[11] then return -1 end
local cur = redis.call('HMGET', KEYS[1], 'offset', 'commit')
local off = cur[1] or '-1'
-- A retry of this very commit (go-redis resends a script whose reply timed
-- out, and the first attempt may have applied): the offset is already the
-- new one and the attempt id is this commit's (random per commit, so no
-- other archiver's commit matches). Report it without applying twice.
if off == ARGV[2] and cur[2] == ARGV[10] then return 2 end
if tonumber(off) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'commit', ARGV[10])
local mt = tonumber(redis.call('HGET', KEYS[1], 'maxtime') or '0')
if tonumber(ARGV[3]) > mt then redis.call('HSET', KEYS[1], 'maxtime', ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'events', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'duplicates', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'quarantined', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[7])
  redis.call('HINCRBY', KEYS[1], 'segments', 1)
end
local n = tonumber(ARGV[12])
local i = 13
for _ = 1, n do
  redis.call('HSET', KEYS[1], 's:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then
  for j = i, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[j]) end
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
end
return 1
