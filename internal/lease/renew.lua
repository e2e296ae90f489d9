-- KEYS[1]: the lease key. ARGV[1]: the exact value held; ARGV[2]: TTL in ms.
-- Extends the lease if it still holds exactly that value: 1 if so, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
