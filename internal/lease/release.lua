-- KEYS[1]: the lease key. ARGV[1]: the exact value held.
-- Deletes the lease if it still holds exactly that value.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
