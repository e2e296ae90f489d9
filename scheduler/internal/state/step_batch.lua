-- step_batch is start_batch then complete_batch in one script call, for a
-- coalesced batch that has both starts and completions (each script's
-- body is wrapped as a function of its own ARGV, scripts.go): one EVALSHA
-- instead of two, the per-call cost of a script (~20 µs of Redis CPU under
-- load, docs/benchmarks-scheduler.md) paid once. KEYS and ARGV[1] as in
-- batch.lua (the key base); ARGV[2]: n (the
-- number of start arguments), the n arguments of start_batch after the
-- base, then complete_batch's arguments after the base (now, tasks...).
-- Returns {start_batch's reply, complete_batch's reply}.
local n = tonumber(ARGV[2])
local sa, ca = {ARGV[1]}, {ARGV[1]}
for j = 3, 2 + n do sa[#sa + 1] = ARGV[j] end
for j = 3 + n, #ARGV do ca[#ca + 1] = ARGV[j] end
return {start_batch(sa), complete_batch(ca)}
