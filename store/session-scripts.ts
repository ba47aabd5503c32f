// The session store's Lua scripts: each touches the keys of one slot, so
// Redis Cluster runs it on one node. Registered once on the client
// (store/gateway.ts `script`). A live session record starts with '2|' and its
// 13 digits of idle expiry (store/session-record.ts); a tombstone with 't|';
// 0.1's records are hashes.

// Work that reaches Redis after its deadline was answered 503 long ago (a
// frozen Redis runs what it received once it goes on): it writes nothing.
const LATE = `
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[#ARGV]) then return {2} end
`

/**
 * A login's index entry, unless the user is banned: KEYS user index, user
 * ban; ARGV member, score, the index's lifetime (ms), the score below which
 * entries are dead for sure (older than any maxAge), the deadline (epoch
 * ms). Answers {1, ban} for a banned user, {2} past the deadline, else {0,
 * the index as [member, score, …]}. One script, so a ban set before it is
 * seen, and one set after it finds the entry.
 */
export const INDEX_SESSION = `${LATE}
local ban = redis.call('GET', KEYS[2])
if ban then return {1, ban} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {0, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
`

/**
 * Writes a new session's record: KEYS session; ARGV record, its expiry,
 * the deadline (epoch ms). Answers 1 written, 0 when a tombstone was there (a
 * ban that raced the login, which stands), {2} past the deadline.
 */
export const CREATE_SESSION = `${LATE}
if not redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], 'NX') then return 0 end
return 1
`

/**
 * Ends a live session early: KEYS session; ARGV tombstone, its longest life
 * (ms), now (ms), '1' to write it even where no session is (a login still
 * writing it will then find the tombstone). The tombstone lives at most as
 * long as the session would have. Answers the record it replaced when a live
 * session ended (1 for a 0.1 hash), else 0.
 */
export const END_SESSION = `
local kind = redis.call('TYPE', KEYS[1]).ok
local left = -1
local record = 1
if kind == 'hash' then
  left = redis.call('PTTL', KEYS[1])
elseif kind == 'string' and redis.call('GETRANGE', KEYS[1], 0, 1) == '2|' then
  record = redis.call('GET', KEYS[1])
  left = tonumber(string.sub(record, 3, 15)) - tonumber(ARGV[3])
end
if left > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.min(left, tonumber(ARGV[2])))
  return record
end
if ARGV[4] == '1' and kind == 'none' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0
`

/**
 * Renews a live session's idle lifetime: KEYS session; ARGV the new expiry's
 * 13 digits, the same as a number. A tombstone or nothing stays as it is:
 * renewal never revives.
 */
export const RENEW_SESSION = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' and redis.call('GETRANGE', KEYS[1], 0, 1) == '2|' then
  redis.call('SETRANGE', KEYS[1], 2, ARGV[1])
elseif kind ~= 'hash' then
  return 0
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`

/**
 * Rewrites the user of a live session, if the record is still the one read:
 * KEYS session; ARGV the record read, the new record, the user as JSON (for
 * a 0.1 hash, which keeps it in 'usr'). Answers 1 when written, 0 when the
 * record changed meanwhile (read it again) or ended.
 */
export const SET_USER = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' then
  redis.call('HSET', KEYS[1], 'usr', ARGV[3])
  return 1
end
if kind == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
`

/** Raises the issued-before mark, never lowers it: KEYS mark; ARGV the moment (epoch ms). Answers the mark. */
export const RAISE_MARK = `
local mark = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > mark then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return tostring(mark)
`
