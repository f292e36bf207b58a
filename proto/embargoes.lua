#!lua flags=no-writes
-- Newswire: lists held (embargoed) items, soonest release first.
-- ARGV[1] key prefix, ARGV[2] most items to return.
-- Returns a flat array: uri, version, release ms, topics, urgency, ... per item.
local prefix = ARGV[1]
local uris = redis.call('ZRANGE', prefix .. 'embargo', 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #uris, 2 do
  local h = redis.call('HMGET', prefix .. 'held:' .. uris[i], 'version', 'topics', 'urgency')
  out[#out + 1] = uris[i]
  out[#out + 1] = h[1] or ''
  out[#out + 1] = uris[i + 1]
  out[#out + 1] = h[2] or ''
  out[#out + 1] = h[3] or ''
end
return out
