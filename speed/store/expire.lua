-- Gives hour hashes a TTL for Expirer (expire.go).
-- KEYS: hour hashes of one partition (its hash tag: one Redis Cluster slot).
-- ARGV[1]: the TTL in milliseconds.
-- Returns the number of keys given it (those that exist): one script call
-- rather than a PEXPIRE each, parsed and answered over the wire.
local n = 0
for _, k in ipairs(KEYS) do
  n = n + redis.call('PEXPIRE', k, ARGV[1])
end
return n
