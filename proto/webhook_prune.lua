#!lua
-- Newswire: removes from a webhook's consumer group the consumers that own
-- no entry and have been idle for at least ARGV[3] ms. Each newswired
-- process reads as a consumer of its own name, so every restart leaves one
-- behind; without this the group's consumer list only grows. A consumer of
-- an instance that still runs is created again by its next read. Atomic: no
-- consumer can take an entry between the check and the removal, so nothing
-- pending is ever dropped.
--
-- KEYS[1] the wire stream
-- ARGV[1] the consumer group, ARGV[2] this consumer (always kept),
-- ARGV[3] idle time in ms
--
-- Returns the number of consumers removed (0 when the group does not exist).
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if consumers['err'] then return 0 end
local idle_min, removed = tonumber(ARGV[3]), 0
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] >= idle_min then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
