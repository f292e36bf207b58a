#!lua
-- Newswire: where the wire stands, and its epoch. Run by the wire tail at
-- every (re)connect and by the history service before a replay.
--
-- KEYS[1] the wire stream, KEYS[2] the epoch key (<prefix>epoch)
-- ARGV[1] a fresh random epoch id, used when there is none yet or when
--         ARGV[2] says the wire was lost
-- ARGV[2] "renew" to replace the epoch (the wire went backwards: history
--         was lost), "" otherwise
--
-- Returns {epoch, last generated id, max deleted id, first entry id,
-- entries ever added, entries now} ("0-0" for each id and 0 for the counts
-- when the wire does not exist). Redis 7.0 does not record trimming by
-- MAXLEN/MINID in max-deleted-entry-id; "added > now" tells that entries
-- were trimmed.
if ARGV[2] == 'renew' then
  redis.call('SET', KEYS[2], ARGV[1])
else
  redis.call('SET', KEYS[2], ARGV[1], 'NX')
end
local epoch = redis.call('GET', KEYS[2])
local ok, info = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
if not ok then
  return {epoch, '0-0', '0-0', '0-0', 0, 0}
end
local last, deleted, first, added, len = '0-0', '0-0', '0-0', 0, 0
for i = 1, #info, 2 do
  local k, v = info[i], info[i + 1]
  if k == 'last-generated-id' then
    last = v
  elseif k == 'max-deleted-entry-id' then
    deleted = v
  elseif k == 'first-entry' and type(v) == 'table' then
    first = v[1]
  elseif k == 'entries-added' then
    added = v
  elseif k == 'length' then
    len = v
  end
end
return {epoch, last, deleted, first, added, len}
