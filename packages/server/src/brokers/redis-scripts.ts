/**
 * The Redis key layout and the Lua scripts that change it. Every key of one channel carries the channel as
 * a hash tag (`herald:{chat:room-1}:…`), so a script touching them runs on one Redis Cluster slot.
 * Scripts are atomic: an append, its offset, its idempotency key and its pub/sub fan-out happen together.
 */
export class RedisKeys {
  constructor(readonly prefix = 'herald:') {}

  /** `herald:{chat:room-1}`; the braces are the Cluster hash tag. */
  private tag(channel: string): string {
    return `${this.prefix}{${channel}}`;
  }

  /**
   * Hash: `epoch`, last `offset`, history `ttl` (ms); written by publishes: `oldest` (ms, the oldest entry's
   * time as last seen, never newer) and `expires` (ms, when the hash's TTL ends), which spare calls.
   */
  meta(channel: string): string {
    return `${this.tag(channel)}:meta`;
  }

  /** Stream of retained publications; entry ID `<offset>-0`, fields `t` (ms), `d` (data JSON), `e` (event JSON or ""). */
  stream(channel: string): string {
    return `${this.tag(channel)}:stream`;
  }

  /** String `"<epoch> <offset>"` of the first publication with this key, expiring after the window. */
  idempotency(channel: string, key: string): string {
    return `${this.tag(channel)}:idem:${key}`;
  }

  /** Hash: client id -> member JSON. */
  members(channel: string): string {
    return `${this.tag(channel)}:members`;
  }

  /** Sorted set: client id scored by the time (ms) its presence expires. */
  memberExpiry(channel: string): string {
    return `${this.tag(channel)}:member-expiry`;
  }

  /** Pub/sub channel for the channel's publications (`p…`), joins (`j…`) and leaves (`l…`). */
  events(channel: string): string {
    return `${this.tag(channel)}:events`;
  }

  /** The channel named by an `events` pub/sub channel. */
  channelOfEvents(name: string): string {
    return name.slice(this.prefix.length + 1, -'}:events'.length);
  }

  /** The channel named by a `stream` key. */
  channelOfStream(key: string): string {
    return key.slice(this.prefix.length + 1, -'}:stream'.length);
  }

  /** SCAN / PUBSUB CHANNELS patterns (channel names hold no glob characters). */
  get streamPattern(): string {
    return `${this.prefix}{*}:stream`;
  }

  get eventsPattern(): string {
    return `${this.prefix}{*}:events`;
  }
}

const common = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

-- The stream's epoch; a stream without one (new, expired, or lost with a Redis restart) starts a new
-- incarnation named by the caller's random candidate, and whatever entries remain are not of it.
local function ensureEpoch(meta, stream, candidate, ttl)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch end
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', candidate, 'offset', 0)
  redis.call('PEXPIRE', meta, ttl)
  return candidate
end

-- Drops entries older than ttl, looking at no more than budget of the oldest (appends amortise the rest).
local function trimExpired(stream, ttl, now, budget)
  local cutoff = now - ttl
  -- Usually the oldest entry is still live: one entry read, nothing to do.
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #oldest == 0 or tonumber(oldest[1][2][2]) >= cutoff then return end
  local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', budget)
  local n = #entries
  local keep = nil
  for i = 1, n do
    if tonumber(entries[i][2][2]) >= cutoff then keep = i break end
  end
  if keep == 1 then return end
  local minId
  if keep then minId = entries[keep][1] else minId = string.match(entries[n][1], '^%d+') .. '-1' end
  redis.call('XTRIM', stream, 'MINID', minId)
  if redis.call('XLEN', stream) == 0 then redis.call('DEL', stream) end
end
`;

/**
 * Publications of one event-loop turn, in the order they were made. KEYS: per publication its meta,
 * stream and idempotency key. ARGV: candidate epoch (for a stream that has none), meta TTL (ms), then per
 * publication: data JSON, event JSON or "", history size, history TTL (ms), idempotency window (ms, 0: no
 * key), events pub/sub channel. Returns per publication {duplicate 0|1, epoch, offset}, or {-1, error}
 * when that one failed (a key of the wrong type): the others are unaffected.
 *
 * Per channel it reads the meta hash once, appends each publication to the stream, then writes the meta
 * hash, trims and renews the TTLs when due, and publishes once: `p<epoch>\n<first offset>\n<ms>\n` then
 * `<event>\n<data>` per publication, joined by `\n` (offsets are consecutive; JSON holds no raw newline).
 * With one publication that is the message a single publish always sent.
 */
export const PUBLISH_BATCH_SCRIPT = `${common}
local metaTtl = tonumber(ARGV[2])
local now = nowMs()
local ts = int(now)
local results = {}
local channels = {}
local order = {}

local function publishOne(i)
  local meta, stream, idem = KEYS[i * 3 - 2], KEYS[i * 3 - 1], KEYS[i * 3]
  local a = i * 6 - 3
  local window = tonumber(ARGV[a + 4])
  if window > 0 then
    local seen = redis.call('GET', idem)
    if seen then
      local space = string.find(seen, ' ', 1, true)
      return {1, string.sub(seen, 1, space - 1), tonumber(string.sub(seen, space + 1))}
    end
  end
  local c = channels[meta]
  if not c then
    -- One read of the meta hash per channel: epoch, offset, and what saves a call when nothing changed.
    local m = redis.call('HMGET', meta, 'epoch', 'offset', 'ttl', 'oldest', 'expires')
    local epoch, offset = m[1], tonumber(m[2])
    if not epoch then
      epoch, offset = ensureEpoch(meta, stream, ARGV[1], metaTtl), 0
    end
    c = {meta = meta, stream = stream, epoch = epoch, offset = offset, first = offset + 1, parts = {}, count = 0,
      storedTtl = tonumber(m[3]), oldest = tonumber(m[4]), expires = tonumber(m[5] or '0')}
    channels[meta] = c
    order[#order + 1] = c
  end
  local size, ttl = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local o = int(c.offset + 1)
  if size > 0 and ttl > 0 then
    redis.call('XADD', stream, 'MAXLEN', size, o .. '-0', 't', ts, 'd', ARGV[a], 'e', ARGV[a + 1])
    c.ttl = ttl
  else
    redis.call('DEL', stream)
    c.ttl = 0
  end
  c.metaTtl = math.max(metaTtl, ttl)
  c.offset = c.offset + 1
  c.count = c.count + 1
  c.events = ARGV[a + 5]
  c.parts[#c.parts + 1] = ARGV[a + 1]
  c.parts[#c.parts + 1] = ARGV[a]
  if window > 0 then redis.call('SET', idem, c.epoch .. ' ' .. o, 'PX', window) end
  return {0, c.epoch, c.offset}
end

for i = 1, #KEYS / 3 do
  local ok, result = pcall(publishOne, i)
  if ok then
    results[i] = result
  else
    results[i] = {-1, type(result) == 'table' and result.err or tostring(result)}
  end
end

for _, c in ipairs(order) do
  if c.count > 0 then
    local fields = {'offset', int(c.offset)}
    if c.storedTtl ~= c.ttl then
      fields[#fields + 1] = 'ttl'
      fields[#fields + 1] = int(c.ttl)
    end
    if c.ttl > 0 then
      -- The time of the oldest entry, as last seen (never newer than it is): while it is within the
      -- TTL nothing can have expired, and the stream's head need not be read.
      if not c.oldest or c.oldest < now - c.ttl then
        trimExpired(c.stream, c.ttl, now, 64 * c.count)
        local head = redis.call('XRANGE', c.stream, '-', '+', 'COUNT', 1)
        fields[#fields + 1] = 'oldest'
        fields[#fields + 1] = #head > 0 and head[1][2][2] or ts
      end
      redis.call('PEXPIRE', c.stream, c.ttl)
    end
    -- The epoch must outlive the last publication by metaTtl (a day by default): it is given half as much
    -- again, and renewed only once less than metaTtl is left, not at every publication.
    if c.expires - now < c.metaTtl then
      local keep = math.floor(c.metaTtl * 1.5)
      redis.call('PEXPIRE', c.meta, keep)
      fields[#fields + 1] = 'expires'
      fields[#fields + 1] = int(now + keep)
    end
    redis.call('HSET', c.meta, unpack(fields))
    redis.call('PUBLISH', c.events, 'p' .. c.epoch .. '\\n' .. int(c.first) .. '\\n' .. ts .. '\\n' .. table.concat(c.parts, '\\n'))
  end
end
return results
`;

/**
 * KEYS: meta, stream. ARGV: candidate epoch, since epoch ("" for none), lowest ID to read ("-" or the one
 * after since), limit, "1" for newest first, the least TTL (ms) the meta key keeps after a read, a byte
 * budget (0: none), highest ID to read ("+", or since + limit when reading newest first after since).
 * Returns {epoch, offset, entries}; entries are XRANGE replies, still within the history TTL. With a budget
 * the stream is read in growing chunks and the read stops at the entry whose data passes it, so a large
 * history costs Redis and the network what one page needs, not all of it.
 */
export const READ_SCRIPT = `${common}
local meta, stream = KEYS[1], KEYS[2]
local minTtl = tonumber(ARGV[6])
local epoch = ensureEpoch(meta, stream, ARGV[1], minTtl)
local pttl = redis.call('PTTL', meta)
if pttl >= 0 and pttl < minTtl then redis.call('PEXPIRE', meta, minTtl) end
local offset = tonumber(redis.call('HGET', meta, 'offset'))
local limit = tonumber(ARGV[4])
local budget = tonumber(ARGV[7])
local entries = {}
if limit > 0 and (ARGV[2] == '' or ARGV[2] == epoch) then
  local ttl = tonumber(redis.call('HGET', meta, 'ttl') or '0')
  if ttl > 0 then
    local now = nowMs()
    trimExpired(stream, ttl, now, 1024)
    local cutoff = now - ttl
    local newestFirst = ARGV[5] == '1'
    local low, high = ARGV[3], ARGV[8]
    local from = newestFirst and high or low
    local chunk = budget > 0 and 16 or limit
    local bytes = 0
    local left = limit
    while left > 0 do
      local count = math.min(chunk, left)
      local raw
      if newestFirst then raw = redis.call('XREVRANGE', stream, from, low, 'COUNT', count)
      else raw = redis.call('XRANGE', stream, from, high, 'COUNT', count) end
      local full = false
      for _, e in ipairs(raw) do
        left = left - 1
        if tonumber(e[2][2]) >= cutoff then
          entries[#entries + 1] = e
          bytes = bytes + #e[2][4] + #e[2][6]
          if budget > 0 and bytes > budget then full = true break end
        end
      end
      if full or #raw < count then break end
      from = '(' .. raw[#raw][1]
      chunk = chunk * 2
    end
  end
end
return {epoch, offset, entries}
`;

/**
 * KEYS: meta, stream. ARGV: epoch, offset a node has delivered, candidate epoch.
 * When the stream is behind what was delivered from it (Redis came back from an older snapshot), its
 * offsets would be handed out again for other publications: it gets a new epoch, so every reader is told.
 */
export const RETIRE_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
if epoch == ARGV[1] and offset < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'offset', 0)
  return 1
end
return 0
`;

const prune = `
-- Members whose expiry passed (their node stopped refreshing them) leave, and everyone is told.
local function prune(members, expiry, events, now)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 100)
  for _, client in ipairs(gone) do
    local member = redis.call('HGET', members, client)
    redis.call('HDEL', members, client)
    redis.call('ZREM', expiry, client)
    if member then redis.call('PUBLISH', events, 'l' .. member) end
  end
end
`;

/**
 * KEYS: members, member-expiry. ARGV: events pub/sub channel, client id, member JSON, TTL (ms).
 * Adds or refreshes a member; publishes a join when it is new.
 */
export const PRESENCE_ADD_SCRIPT = `${common}${prune}
local members, expiry = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[4])
local now = nowMs()
prune(members, expiry, ARGV[1], now)
local added = redis.call('ZADD', expiry, now + ttl, ARGV[2])
redis.call('HSET', members, ARGV[2], ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if added == 1 then redis.call('PUBLISH', ARGV[1], 'j' .. ARGV[3]) end
return added
`;

/** KEYS: members, member-expiry. ARGV: events pub/sub channel, client id. Publishes a leave if it was there. */
export const PRESENCE_REMOVE_SCRIPT = `
local members, expiry = KEYS[1], KEYS[2]
local member = redis.call('HGET', members, ARGV[2])
redis.call('HDEL', members, ARGV[2])
if redis.call('ZREM', expiry, ARGV[2]) == 1 and member then
  redis.call('PUBLISH', ARGV[1], 'l' .. member)
  return 1
end
return 0
`;

/** KEYS: members, member-expiry. ARGV: events pub/sub channel. Returns the live members' JSON. */
export const PRESENCE_LIST_SCRIPT = `${common}${prune}
local members, expiry = KEYS[1], KEYS[2]
local now = nowMs()
prune(members, expiry, ARGV[1], now)
local list = {}
for _, client in ipairs(redis.call('ZRANGEBYSCORE', expiry, '(' .. int(now), '+inf')) do
  local member = redis.call('HGET', members, client)
  if member then list[#list + 1] = member end
end
return list
`;
