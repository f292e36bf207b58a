#!lua
-- Newswire: keeps the webhook deliveries an instance is retrying "fresh"
-- (idle time 0) so that other instances, which take over entries idle for
-- webhook_claim_idle, leave them alone. Only entries this consumer still
-- owns are touched: one another instance took over stays with it.
--
-- KEYS[1] the wire stream
-- ARGV[1] the consumer group, ARGV[2] this consumer, ARGV[3...] wire ids
--
-- Returns the ids this consumer no longer owns (taken over, or no longer
-- pending): the caller stops working on them.
local mine, lost = {}, {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] ~= nil and p[1][2] == ARGV[2] then
    mine[#mine + 1] = ARGV[i]
  else
    lost[#lost + 1] = ARGV[i]
  end
end
if #mine > 0 then
  -- min-idle 0 resets their idle time; JUSTID keeps the delivery counter
  local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], '0'}
  for _, id in ipairs(mine) do
    args[#args + 1] = id
  end
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
return lost
