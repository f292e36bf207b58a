#!lua flags=no-writes
-- Newswire: the most recent items of topics or patterns, for clients that
-- cannot resume (recovered: false) and for first paint
-- (GET /v1/topics/<topic>/recent).
--
-- KEYS[1]  the wire stream
-- ARGV[1]  key prefix
-- ARGV[2]  most items per topic or pattern
-- ARGV[3]  most wire entries scanned for a wildcard pattern
-- ARGV[4]  only items whose latest version is on the wire at or before
--          this id ("+" for no bound)
-- ARGV[5...] topics or patterns
--
-- Each item is the latest stored version of its story; killed, withheld
-- and never-released stories are left out. An exact topic is read from its
-- index stream <prefix>topic:<t>; a pattern with + or # from the wire,
-- newest first. Returns a flat array, 7 fields per item:
--   id, kind, uri, version, urgency, topics, item
local prefix, per = ARGV[1], tonumber(ARGV[2])
local scan, upto = tonumber(ARGV[3]), ARGV[4]

local function id_le(a, b)
  if b == '+' then return true end
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as <= bs)
end

-- MQTT-style match: + one segment, trailing # any depth (zero included).
local function match(pattern, topic)
  local ps, ts = {}, {}
  for s in string.gmatch(pattern, '[^/]+') do ps[#ps + 1] = s end
  for s in string.gmatch(topic, '[^/]+') do ts[#ts + 1] = s end
  for i = 1, #ps do
    if ps[i] == '#' then return true end
    if ts[i] == nil then return false end
    if ps[i] ~= '+' and ps[i] ~= ts[i] then return false end
  end
  return #ts == #ps
end

local out, seen = {}, {}
local function consider(uri)
  if seen[uri] then return false end
  seen[uri] = true
  local h = redis.call('HMGET', prefix .. 'item:' .. uri, 'id', 'kind', 'version', 'urgency',
    'topics', 'item')
  if not h[1] or h[1] == '' or h[2] == 'kill' or h[2] == 'withhold' then return false end
  if not id_le(h[1], upto) then return false end
  for _, v in ipairs({h[1], h[2], uri, h[3], h[4], h[5], h[6]}) do out[#out + 1] = v end
  return true
end

for i = 5, #ARGV do
  local t = ARGV[i]
  local n = 0
  if string.find(t, '[+#]') then
    local entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', scan)
    for _, e in ipairs(entries) do
      if n >= per then break end
      local f = e[2]
      local uri, topics
      for j = 1, #f, 2 do
        if f[j] == 'uri' then uri = f[j + 1] elseif f[j] == 'topics' then topics = f[j + 1] end
      end
      local hit = false
      for tp in string.gmatch(topics or '', '[^,]+') do
        if match(t, tp) then hit = true break end
      end
      if hit and uri and consider(uri) then n = n + 1 end
    end
  else
    local entries = redis.call('XREVRANGE', prefix .. 'topic:' .. t, '+', '-', 'COUNT', per * 4)
    for _, e in ipairs(entries) do
      if n >= per then break end
      local f = e[2]
      for j = 1, #f, 2 do
        if f[j] == 'uri' then
          if consider(f[j + 1]) then n = n + 1 end
          break
        end
      end
    end
  end
end
return out
