-- KEYS[1]: the lease key; KEYS[2] (optional): the fence counter.
-- ARGV[1]: the owner; ARGV[2]: the TTL in ms.
-- Takes the lease when it is free or already the owner's: a fenced lease gets
-- a new token (whatever an earlier incarnation of the same owner still has in
-- flight is fenced off too), an unfenced one is simply renewed. Returns the
-- token (1 when unfenced), or 0 when another owner holds it.
local cur = redis.call('GET', KEYS[1])
if cur then
  local owner = cur
  if #KEYS > 1 then
    owner = string.match(cur, '^(.*)|%d+$')
  end
  if owner ~= ARGV[1] then
    return 0
  end
end
if #KEYS == 1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
