-- KEYS[1]: the members zset. ARGV[1]: the member to renew ('' for none);
-- ARGV[2]: how long it stays live (ms).
-- Renews the member, forgets members whose expiry passed, and returns the
-- live members. Redis's TIME is the clock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
