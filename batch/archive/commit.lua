-- Commits one cut: KEYS partition hash, segments zset,
-- quarantine list. ARGV: expected previous offset, new offset, maxtime,
-- events, duplicates, quarantined, segment name ("" for none), first offset,
-- quarantine cap, n_seqs, then producer, seq pairs, then quarantine entries.
-- Returns 1, or 0 when the committed offset is not the expected one.
local cur = tonumber(redis.call('HGET', KEYS[1], 'offset') or '-1')
if cur ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'offset', ARGV[2])
local mt = tonumber(redis.call('HGET', KEYS[1], 'maxtime') or '0')
if tonumber(ARGV[3]) > mt then redis.call('HSET', KEYS[1], 'maxtime', ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'events', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'duplicates', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'quarantined', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[7])
  redis.call('HINCRBY', KEYS[1], 'segments', 1)
end
local n = tonumber(ARGV[10])
local i = 11
for _ = 1, n do
  redis.call('HSET', KEYS[1], 's:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then
  for j = i, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[j]) end
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
end
return 1
