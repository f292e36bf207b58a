#!lua
-- Newswire publish script: stores one ninjs item version and puts it on the
-- wire, or holds it until its embargo, atomically. Run with EVALSHA by
-- newswired; see proto/PROTOCOL.md ("Redis keys").
--
-- KEYS[1]  the wire stream (<prefix>wire)
-- ARGV[1]  key prefix ("{nw}:")
-- ARGV[2]  uri
-- ARGV[3]  version (decimal string, 1..999999999)
-- ARGV[4]  the item, canonical JSON (compact, keys sorted)
-- ARGV[5]  urgency 1..9
-- ARGV[6]  pubstatus: usable | withheld | canceled
-- ARGV[7]  topics, comma-separated, already validated
-- ARGV[8]  wire MAXLEN (approximate)
-- ARGV[9]  topic index MAXLEN (approximate)
-- ARGV[10] now, Unix ms (ingest time)
-- ARGV[11] embargo release time, Unix ms, or 0 when not embargoed
-- ARGV[12] Idempotency-Key, or ""
-- ARGV[13] item record lifetime, seconds, or 0 for none (item_ttl)
-- ARGV[14] Idempotency-Key lifetime, seconds
-- ARGV[15] wire maximum age, ms, or 0 for none
--
-- Returns {result, wire id or "", kind, version}, result one of:
--   ok         stored and on the wire
--   dup        same uri, version and content already stored or held: nothing new
--   embargoed  held in <prefix>embargo until the release time
--   canceled   a kill of a story that was only held: the hold is dropped, nothing
--              goes on the wire
--   conflict   same uri and version, other content (version = the stored one)
--   stale      a higher version is stored or held (version = that one)
--   idem_conflict  the Idempotency-Key was used for another request
--   too_many_topics  the story's versions would span more than 32 topics
-- For a replay of an Idempotency-Key (same key, same uri, version, topics and
-- item), the first answer is returned again with a fifth element "replay".
--
-- Every key's type is known before the first write, so a key of the wrong
-- type aborts the script with nothing written: the hashes through their
-- HMGET, the topic streams (and, on the rarer paths, the wire and the
-- embargo set) with TYPE, and the wire on the common path through its XADD,
-- the first write there.

local prefix, uri, version, item = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local urgency, pubstatus, topics_csv = ARGV[5], ARGV[6], ARGV[7]
local now, embargo = tonumber(ARGV[10]), tonumber(ARGV[11])
local idem_key = ARGV[12]
local idem_fp = ''
if idem_key ~= '' then
  idem_fp = redis.sha1hex(uri .. '\n' .. version .. '\n' .. topics_csv .. '\n' .. item)
end
local wire = KEYS[1]
local item_key = prefix .. 'item:' .. uri
local held_key = prefix .. 'held:' .. uri
local embargo_key = prefix .. 'embargo'
local idem = prefix .. 'idem:' .. idem_key
local item_ttl = tonumber(ARGV[13]) or 0

-- Writes the story's record; it lives item_ttl seconds from its last write.
local function store_item(...)
  redis.call('HSET', item_key, ...)
  if item_ttl > 0 then redis.call('EXPIRE', item_key, item_ttl) end
end

local function check_type(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a ' .. want)
  end
  return nil
end

-- HMGET that hands back its error (a key of another type) as the reply to
-- return.
local function hmget(key, ...)
  local r = redis.pcall('HMGET', key, ...)
  if r['err'] then return nil, r end
  return r
end

local function split(csv)
  local out = {}
  for t in string.gmatch(csv or '', '[^,]+') do out[#out + 1] = t end
  return out
end

-- Every topic of a and b, a's first, once each.
local function union(a, b)
  if not b or b == '' or b == a then return a end -- a holds no topic twice
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

local err
-- Remembers the answer under the Idempotency-Key, then returns it.
local function answer(result, id, kind, ver)
  if idem_key ~= '' then
    redis.call('HSET', idem, 'fp', idem_fp, 'result', result, 'id', id, 'kind', kind,
      'version', ver)
    redis.call('EXPIRE', idem, tonumber(ARGV[14]))
  end
  return {result, id, kind, ver}
end

if idem_key ~= '' then
  local seen
  seen, err = hmget(idem, 'fp', 'result', 'id', 'kind', 'version')
  if err then return err end
  if seen[1] then
    if seen[1] == idem_fp then
      return {seen[2], seen[3], seen[4], seen[5], 'replay'}
    end
    return {'idem_conflict', '', '', ''}
  end
end

local stored, held
stored, err = hmget(item_key, 'version', 'item', 'id', 'kind', 'topics')
if err then return err end
held, err = hmget(held_key, 'version', 'item')
if err then return err end
local want = tonumber(version)
local all_topics = union(topics_csv, stored[5])
local all_list = split(all_topics)
if #all_list > 32 then
  -- kills must be able to reach every topic of the story (an event names
  -- at most 32 topics)
  return {'too_many_topics', '', '', stored[1] or ''}
end
for _, t in ipairs(all_list) do
  err = check_type(prefix .. 'topic:' .. t, 'stream')
  if err then return err end
end

-- Version rules against both the public and the held version.
for _, cur in ipairs({held, stored}) do
  if cur[1] then
    local have = tonumber(cur[1])
    if want == have then
      if cur[2] == item then
        if cur == held then return answer('embargoed', '', 'held', version) end
        return answer('dup', cur[3] or '', cur[4] or 'new', version)
      end
      return {'conflict', '', '', cur[1]}
    elseif want < have then
      return {'stale', '', '', cur[1]}
    end
  end
end

local kind = stored[1] and 'update' or 'new'
if pubstatus == 'canceled' then
  kind = 'kill'
elseif pubstatus == 'withheld' then
  kind = 'withhold'
end

-- The embargo set is written when a hold goes or comes; the wire, when a
-- hold goes first.
if held[1] or (embargo > now and kind ~= 'kill') then
  err = check_type(embargo_key, 'zset')
  if err then return err end
end
if held[1] then
  err = check_type(wire, 'stream')
  if err then return err end
end

-- A newer version replaces a held one: the hold goes.
if held[1] then
  redis.call('DEL', held_key)
  redis.call('ZREM', embargo_key, uri)
end

if kind == 'kill' and not stored[1] then
  -- The story was never public: record the kill, deliver nothing.
  if held[1] then
    store_item('uri', uri, 'version', version, 'item', item, 'id', '',
      'kind', 'kill', 'topics', topics_csv, 'urgency', urgency, 'pubstatus', pubstatus,
      'ts', ARGV[10])
    return answer('canceled', '', 'kill', version)
  end
end

if embargo > now and kind ~= 'kill' then
  redis.call('HSET', held_key, 'uri', uri, 'version', version, 'item', item,
    'urgency', urgency, 'pubstatus', pubstatus, 'topics', topics_csv, 'embargo', ARGV[11],
    'ts', ARGV[10])
  redis.call('ZADD', embargo_key, embargo, uri)
  return answer('embargoed', '', 'held', version)
end

-- Kills and withholds reach every topic the story was ever published on.
local wire_topics = topics_csv
if kind == 'kill' or kind == 'withhold' then wire_topics = all_topics end

-- The first write when no hold went: a wire of another type stops here.
local id = redis.pcall('XADD', wire, 'MAXLEN', '~', ARGV[8], '*',
  'kind', kind, 'uri', uri, 'version', version, 'urgency', urgency,
  'topics', wire_topics, 'ts', ARGV[10], 'item', item)
if type(id) == 'table' then return id end
for _, t in ipairs(split(wire_topics)) do
  redis.call('XADD', prefix .. 'topic:' .. t, 'MAXLEN', '~', ARGV[9], '*',
    'id', id, 'uri', uri, 'version', version)
end
if tonumber(ARGV[15]) > 0 then
  redis.call('XTRIM', wire, 'MINID', '~', tostring(now - tonumber(ARGV[15])))
end
store_item('uri', uri, 'version', version, 'item', item, 'id', id,
  'kind', kind, 'topics', all_topics, 'urgency', urgency, 'pubstatus', pubstatus,
  'ts', ARGV[10])
return answer('ok', id, kind, version)
