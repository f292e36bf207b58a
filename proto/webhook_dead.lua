#!lua
-- Newswire: moves a webhook delivery that ran out of time (or whose
-- partner is gone) to the webhook's dead-letter stream, and acknowledges
-- it in the consumer group, atomically. The entry is dead-lettered only if
-- it was still pending: when two instances hold it (one took it over from
-- the other), only the first one writes a dead letter.
--
-- KEYS[1] the wire stream, KEYS[2] the dead-letter stream
-- ARGV[1] the consumer group, ARGV[2] the wire id, ARGV[3] the item message
-- (the body that was POSTed), ARGV[4] the reason ("horizon", "gone",
-- "disabled"), ARGV[5] attempts, ARGV[6] the last HTTP status (0: no
-- answer), ARGV[7] the dead stream's approximate MAXLEN
--
-- Returns 1 when written, 0 when the entry was no longer pending.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[2], 'item', ARGV[3],
           'reason', ARGV[4], 'attempts', ARGV[5], 'last_status', ARGV[6])
return 1
