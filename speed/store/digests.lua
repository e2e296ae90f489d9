-- Reads the digests of hour hashes for HourDigests (digest.go).
-- KEYS: hour hashes of one partition (its hash tag: one Redis Cluster slot).
-- ARGV[1]: the digest field (keyspace.FieldDigest).
-- Returns, per key in order, its number of fields (HLEN, 0 when the hash
-- does not exist) and its digest field (nil when absent), as one flat array:
-- two commands per hash run here rather than as two commands each parsed
-- and answered over the wire.
local out = {}
for i, k in ipairs(KEYS) do
  out[2 * i - 1] = redis.call('HLEN', k)
  out[2 * i] = redis.call('HGET', k, ARGV[1])
end
return out
