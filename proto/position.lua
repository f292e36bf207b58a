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
-- Returns {epoch, last generated id, max deleted id, first entry id}
-- ("0-0" for each id when the wire does not exist).
if ARGV[2] == 'renew' then
  redis.call('SET', KEYS[2], ARGV[1])
else
  redis.call('SET', KEYS[2], ARGV[1], 'NX')
end
local epoch = redis.call('GET', KEYS[2])
local ok, info = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
if not ok then
  return {epoch, '0-0', '0-0', '0-0'}
end
local last, deleted, first = '0-0', '0-0', '0-0'
for i = 1, #info, 2 do
  local k, v = info[i], info[i + 1]
  if k == 'last-generated-id' then
    last = v
  elseif k == 'max-deleted-entry-id' then
    deleted = v
  elseif k == 'first-entry' and type(v) == 'table' then
    first = v[1]
  end
end
return {epoch, last, deleted, first}
