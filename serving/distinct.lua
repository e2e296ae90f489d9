-- KEYS[1]: a scratch key; KEYS[2..]: the HyperLogLogs of the speed buckets.
-- ARGV: the batch part's exact destinations. Returns the union's estimate.
redis.call('DEL', KEYS[1])
if #KEYS > 1 then
  redis.call('PFMERGE', KEYS[1], unpack(KEYS, 2))
end
local step = 1000
for i = 1, #ARGV, step do
  redis.call('PFADD', KEYS[1], unpack(ARGV, i, math.min(i + step - 1, #ARGV)))
end
local n = redis.call('PFCOUNT', KEYS[1])
redis.call('DEL', KEYS[1])
return n
