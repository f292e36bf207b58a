#!lua
-- Newswire publish script: stores one ninjs item version and puts it on the
-- wire, atomically. Run with EVALSHA by newswired; see proto/PROTOCOL.md
-- ("Redis keys").
--
-- KEYS[1]  the wire stream (<prefix>wire)
-- ARGV[1]  key prefix ("nw:")
-- ARGV[2]  uri
-- ARGV[3]  version (decimal string, 1..999999999)
-- ARGV[4]  the item, canonical JSON (compact, keys sorted)
-- ARGV[5]  urgency 1..9
-- ARGV[6]  pubstatus: usable | withheld | canceled
-- ARGV[7]  topics, comma-separated, already validated
-- ARGV[8]  wire MAXLEN (approximate)
-- ARGV[9]  topic index MAXLEN (approximate)
-- ARGV[10] ingest time, Unix ms
--
-- Returns one of:
--   {"ok", <wire id>, <kind>}        stored and on the wire
--   {"dup", <wire id>, <kind>}       same uri, version and content: nothing new
--   {"conflict", <stored version>}   same uri and version, other content
--   {"stale", <stored version>}      a higher version is already stored
--
-- Every key's type is checked before the first write, so a key of the wrong
-- type aborts the script with nothing written.

local prefix, uri, version, item = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local urgency, pubstatus, topics_csv = ARGV[5], ARGV[6], ARGV[7]
local wire = KEYS[1]
local item_key = prefix .. 'item:' .. uri

local function check_type(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a ' .. want)
  end
  return nil
end

local err = check_type(item_key, 'hash') or check_type(wire, 'stream')
if err then return err end

local topics = {}
for t in string.gmatch(topics_csv, '[^,]+') do
  topics[#topics + 1] = t
  err = check_type(prefix .. 'topic:' .. t, 'stream')
  if err then return err end
end

local stored = redis.call('HMGET', item_key, 'version', 'item', 'id', 'kind', 'topics')
local kind = 'new'
local all_topics = topics_csv
if stored[1] then
  local have, want = tonumber(stored[1]), tonumber(version)
  if want == have then
    if stored[2] == item then
      return {'dup', stored[3], stored[4] or 'new'}
    end
    return {'conflict', stored[1]}
  elseif want < have then
    return {'stale', stored[1]}
  end
  kind = 'update'
  -- remember every topic the story was ever published on
  local seen = {}
  for _, t in ipairs(topics) do seen[t] = true end
  for t in string.gmatch(stored[5] or '', '[^,]+') do
    if not seen[t] then
      seen[t] = true
      all_topics = all_topics .. ',' .. t
    end
  end
end
if pubstatus == 'canceled' then
  kind = 'kill'
elseif pubstatus == 'withheld' then
  kind = 'withhold'
end

local id = redis.call('XADD', wire, 'MAXLEN', '~', ARGV[8], '*',
  'kind', kind, 'uri', uri, 'version', version, 'urgency', urgency,
  'topics', topics_csv, 'ts', ARGV[10], 'item', item)
for _, t in ipairs(topics) do
  redis.call('XADD', prefix .. 'topic:' .. t, 'MAXLEN', '~', ARGV[9], '*',
    'id', id, 'uri', uri, 'version', version)
end
redis.call('HSET', item_key, 'uri', uri, 'version', version, 'item', item, 'id', id,
  'kind', kind, 'topics', all_topics, 'urgency', urgency, 'pubstatus', pubstatus,
  'ts', ARGV[10])
return {'ok', id, kind}
