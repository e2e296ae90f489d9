-- step_batch is start_batch then complete_batch in one script call, for a
-- coalesced batch that has both starts and completions (each script's
-- body is wrapped as a function of its own ARGV, scripts.go): one EVALSHA
-- instead of two, the per-call cost of a script (~20 µs of Redis CPU under
-- load, docs/benchmarks-scheduler.md) paid once. ARGV: prefix, n (the
-- number of start arguments), the n arguments of start_batch after its
-- prefix, then complete_batch's arguments after its prefix (now, tasks...).
-- Returns {start_batch's reply, complete_batch's reply}.
local n = tonumber(ARGV[2])
local sa, ca = {ARGV[1]}, {ARGV[1]}
for j = 3, 2 + n do sa[#sa + 1] = ARGV[j] end
for j = 3 + n, #ARGV do ca[#ca + 1] = ARGV[j] end
return {start_batch(sa), complete_batch(ca)}
