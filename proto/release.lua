#!lua
-- Newswire embargo release script: puts every held item whose release time
-- has come on the wire, atomically. Every newswired instance runs it on a
-- timer; because a released item leaves <prefix>embargo inside the script,
-- it is released exactly once however many instances run.
--
-- KEYS[1]  the wire stream (<prefix>wire)
-- ARGV[1]  key prefix ("{nw}:")
-- ARGV[2]  now, Unix ms
-- ARGV[3]  most items to release in this call
-- ARGV[4]  wire MAXLEN (approximate)
-- ARGV[5]  topic index MAXLEN (approximate)
-- ARGV[6]  wire maximum age, ms, or 0 for none
-- ARGV[7]  item record lifetime, seconds, or 0 for none (item_ttl)
--
-- Returns {released count, next release time in Unix ms or -1, id1, id2...}.

local prefix, now = ARGV[1], tonumber(ARGV[2])
local item_ttl = tonumber(ARGV[7]) or 0
local wire = KEYS[1]
local embargo_key = prefix .. 'embargo'

local function split(csv)
  local out = {}
  for t in string.gmatch(csv or '', '[^,]+') do out[#out + 1] = t end
  return out
end

local function union(a, b)
  local seen, out = {}, {}
  for _, list in ipairs({split(a), split(b)}) do
    for _, t in ipairs(list) do
      if not seen[t] then
        seen[t] = true
        out[#out + 1] = t
      end
    end
  end
  return table.concat(out, ',')
end

local t = redis.call('TYPE', embargo_key)['ok']
if t ~= 'none' and t ~= 'zset' then
  return redis.error_reply('WRONGTYPE ' .. embargo_key .. ' is not a zset')
end

local function check_type(key, want)
  local kt = redis.call('TYPE', key)['ok']
  if kt ~= 'none' and kt ~= want then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. kt .. ', not a ' .. want)
  end
  return nil
end

local due = redis.call('ZRANGEBYSCORE', embargo_key, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {0, -1}
-- Every key's type is checked before the first write.
local err = check_type(wire, 'stream')
if err then return err end
for _, uri in ipairs(due) do
  err = check_type(prefix .. 'item:' .. uri, 'hash') or check_type(prefix .. 'held:' .. uri, 'hash')
  if err then return err end
  local topics = redis.call('HGET', prefix .. 'held:' .. uri, 'topics')
  local stored = redis.call('HGET', prefix .. 'item:' .. uri, 'topics')
  for _, topic in ipairs(split(union(topics or '', stored or ''))) do
    err = check_type(prefix .. 'topic:' .. topic, 'stream')
    if err then return err end
  end
end
for _, uri in ipairs(due) do
  local item_key = prefix .. 'item:' .. uri
  local held_key = prefix .. 'held:' .. uri
  local h = redis.call('HMGET', held_key, 'version', 'item', 'urgency', 'pubstatus', 'topics')
  local stored = redis.call('HMGET', item_key, 'version', 'topics')
  redis.call('ZREM', embargo_key, uri)
  redis.call('DEL', held_key)
  if h[1] and not (stored[1] and tonumber(stored[1]) >= tonumber(h[1])) then
    local kind = stored[1] and 'update' or 'new'
    if h[4] == 'withheld' then kind = 'withhold' end
    local all_topics = union(h[5], stored[2])
    local wire_topics = kind == 'withhold' and all_topics or h[5]
    local id = redis.call('XADD', wire, 'MAXLEN', '~', ARGV[4], '*',
      'kind', kind, 'uri', uri, 'version', h[1], 'urgency', h[3],
      'topics', wire_topics, 'ts', ARGV[2], 'item', h[2])
    for _, topic in ipairs(split(wire_topics)) do
      redis.call('XADD', prefix .. 'topic:' .. topic, 'MAXLEN', '~', ARGV[5], '*',
        'id', id, 'uri', uri, 'version', h[1])
    end
    redis.call('HSET', item_key, 'uri', uri, 'version', h[1], 'item', h[2], 'id', id,
      'kind', kind, 'topics', all_topics, 'urgency', h[3], 'pubstatus', h[4], 'ts', ARGV[2])
    if item_ttl > 0 then redis.call('EXPIRE', item_key, item_ttl) end
    out[1] = out[1] + 1
    out[#out + 1] = id
  end
end
if out[1] > 0 and tonumber(ARGV[6]) > 0 then
  redis.call('XTRIM', wire, 'MINID', '~', tostring(now - tonumber(ARGV[6])))
end
local nxt = redis.call('ZRANGE', embargo_key, 0, 0, 'WITHSCORES')
if nxt[2] then out[2] = tonumber(nxt[2]) end
return out
