#!lua
-- Newswire: webhook registrations made through the API (POST, DELETE
-- /v1/webhooks and .../enable), each in one atomic step.
--
-- KEYS[1] the wire stream, KEYS[2] the registrations hash
-- (<prefix>webhooks, name -> JSON), KEYS[3] the disabled marks
-- (<prefix>webhooks:disabled, name -> JSON), KEYS[4] the webhook's dead
-- letters (<prefix>wh:<name>:dead)
-- ARGV[1] "register", "enable" or "delete"
-- ARGV[2] the webhook name, ARGV[3] its consumer group (<prefix>wh:<name>)
-- ARGV[4] register: the registration JSON
--
-- register: stores the registration and clears a disabled mark; creates
--   the consumer group at the wire's end ("$") if there is none, and moves
--   it there if the webhook was disabled (what was published meanwhile is
--   not sent). Returns 1 if it replaced a registration, 0 if new.
-- enable: clears the disabled mark (moving the group to "$"); returns 1 if
--   the webhook was disabled, 0 otherwise.
-- delete: removes the registration, its mark, its consumer group and its
--   dead letters; returns 1 if it existed, 0 otherwise.
local op, name, group = ARGV[1], ARGV[2], ARGV[3]

local function ensure_group(to_end)
  local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], group, '$', 'MKSTREAM')
  if type(r) == 'table' and r.err then
    if string.sub(r.err, 1, 9) ~= 'BUSYGROUP' then
      return redis.error_reply(r.err)
    end
    if to_end then
      redis.call('XGROUP', 'SETID', KEYS[1], group, '$')
    end
  end
end

if op == 'register' then
  local existed = redis.call('HEXISTS', KEYS[2], name)
  local disabled = redis.call('HEXISTS', KEYS[3], name)
  ensure_group(disabled == 1)
  redis.call('HSET', KEYS[2], name, ARGV[4])
  redis.call('HDEL', KEYS[3], name)
  return existed
elseif op == 'enable' then
  local disabled = redis.call('HDEL', KEYS[3], name)
  if disabled == 1 then
    ensure_group(true)
  end
  return disabled
elseif op == 'delete' then
  local existed = redis.call('HDEL', KEYS[2], name)
  redis.call('HDEL', KEYS[3], name)
  if existed == 1 then
    redis.pcall('XGROUP', 'DESTROY', KEYS[1], group)
    redis.call('DEL', KEYS[4])
  end
  return existed
end
return redis.error_reply('ERR unknown webhook operation')
