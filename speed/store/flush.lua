-- Applies one partition's flush atomically (see flush.go for the argument layout).
-- KEYS[1] lease, KEYS[2] partition hash, KEYS[3] quarantine list, KEYS[4..] data keys.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0, 'lease'}
end
local part = KEYS[2]
local cur = redis.call('HMGET', part, 'offset', 'token')
local off = cur[1] or '-1'
if off ~= ARGV[3] then
  -- A client that lost the reply (Redis restarting, failing over) may send
  -- the same flush again: the partition then holds this flush's new offset
  -- and token. Acknowledge it without applying it twice, rather than
  -- reporting a lost lease.
  if off == ARGV[4] and cur[2] == ARGV[2] and ARGV[3] ~= ARGV[4] then
    return {1, 'already applied'}
  end
  return {0, 'offset ' .. off .. ' expected ' .. ARGV[3]}
end
if cur[2] and tonumber(cur[2]) > tonumber(ARGV[2]) then
  return {0, 'token ' .. cur[2]}
end
local ttl = tonumber(ARGV[6])
local qcap = tonumber(ARGV[7])
local nseq = tonumber(ARGV[12])
local i = 15
for _ = 1, nseq do
  redis.call('HSET', part, 's:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = #ARGV
while i <= n do
  local op = ARGV[i]
  local k = KEYS[tonumber(ARGV[i + 1])]
  if op == 'B' then
    -- count sum delayed min max nbins {bin count}
    local nb = tonumber(ARGV[i + 7])
    local fields = {'count', 'sum', 'delayed', 'min', 'max'}
    for j = 1, nb do
      fields[5 + j] = 'b' .. ARGV[i + 6 + 2 * j]
    end
    local old = redis.call('HMGET', k, unpack(fields))
    local c, s, d = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    local mn, mx = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
    if old[1] then
      c = c + tonumber(old[1]); s = s + tonumber(old[2]); d = d + tonumber(old[3])
      mn = math.min(mn, tonumber(old[4])); mx = math.max(mx, tonumber(old[5]))
    end
    local set = {'count', string.format('%d', c), 'sum', string.format('%d', s), 'delayed', string.format('%d', d),
      'min', string.format('%d', mn), 'max', string.format('%d', mx)}
    for j = 1, nb do
      local bc = tonumber(ARGV[i + 7 + 2 * j]) + tonumber(old[5 + j] or '0')
      set[#set + 1] = fields[5 + j]
      set[#set + 1] = string.format('%d', bc)
    end
    redis.call('HSET', k, unpack(set))
    i = i + 8 + 2 * nb
  else
    -- H (PFADD), S (SADD), Q (RPUSH, capped): n members
    local m = tonumber(ARGV[i + 2])
    if op == 'H' then
      redis.call('PFADD', k, unpack(ARGV, i + 3, i + 2 + m))
    elseif op == 'S' then
      redis.call('SADD', k, unpack(ARGV, i + 3, i + 2 + m))
    else
      redis.call('RPUSH', k, unpack(ARGV, i + 3, i + 2 + m))
      redis.call('LTRIM', k, -qcap, -1)
    end
    i = i + 3 + m
  end
  if ttl > 0 and op ~= 'Q' then
    redis.call('PEXPIRE', k, ttl)
  end
end
redis.call('HSET', part, 'offset', ARGV[4], 'token', ARGV[2], 'maxtime', ARGV[5])
local mint = tonumber(ARGV[14])
if mint > 0 then
  local cur = redis.call('HGET', part, 'mintime')
  if not cur or tonumber(cur) > mint then
    redis.call('HSET', part, 'mintime', ARGV[14])
  end
end
-- A committed flush proves ownership: extend the lease, so that renewals
-- queued behind long scripts on a busy Redis do not let it lapse.
if tonumber(ARGV[13]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[13])
end
redis.call('HINCRBY', part, 'applied', ARGV[8])
redis.call('HINCRBY', part, 'late', ARGV[9])
redis.call('HINCRBY', part, 'duplicates', ARGV[10])
redis.call('HINCRBY', part, 'quarantined', ARGV[11])
return {1, 'ok'}
