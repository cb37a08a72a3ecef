/**
 * The Redis side of `RedisLedger`: its keys and the Lua scripts that change them, each atomic, so that
 * whichever node runs the script that makes an event happen is the one node that sends it.
 *
 * Per channel (one Cluster slot, by the hash tag):
 * - `occ` hash: `s:<node>` = 1 for each node holding a subscriber, `total` = how many, `occupied` = 1
 *   while `channel.occupied` stands, `vacateAt` = when an empty channel is vacant for good (ms);
 * - `members` hash: client -> `<node>\n<reported member JSON>\n<u<user> or ->` (the member reported for
 *   the client: an earlier client of the same user when it came back within the grace);
 * - `leaving` hash: user -> lines `<at ms>\t<member JSON>`, leaves whose grace runs until `at`.
 * Per node: `clients` hash (client -> `{"user","connectedAt"}`) and `channels` set (where it holds
 * something). Global: `nodes` sorted set (node -> heartbeat deadline) and `due` sorted set (one entry
 * `<channel>\n<nonce>` per grace, scored by its end). JSON never holds a raw newline or tab.
 */
export class LedgerKeys {
  constructor(
    private readonly prefix: string,
    private readonly node: string,
  ) {}

  private channel(channel: string, part: string): string {
    return `${this.prefix}wh:{${channel}}:${part}`;
  }

  occupancy(channel: string): string {
    return this.channel(channel, 'occ');
  }

  members(channel: string): string {
    return this.channel(channel, 'members');
  }

  leaving(channel: string): string {
    return this.channel(channel, 'leaving');
  }

  clients(node = this.node): string {
    return `${this.prefix}wh:node:{${node}}:clients`;
  }

  channels(node = this.node): string {
    return `${this.prefix}wh:node:{${node}}:channels`;
  }

  get nodes(): string {
    return `${this.prefix}wh:nodes`;
  }

  get due(): string {
    return `${this.prefix}wh:due`;
  }
}

const now = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: occ. ARGV: node. Returns Redis's time (ms) when the channel becomes occupied (the caller sends it),
 * else 0. Events carry Redis's time, so their timestamps order them across nodes as Redis did.
 */
export const OCCUPY_SCRIPT = `${now}
local occ, field = KEYS[1], 's:' .. ARGV[1]
if redis.call('HSETNX', occ, field, 1) == 1 then redis.call('HINCRBY', occ, 'total', 1) end
if redis.call('HEXISTS', occ, 'occupied') == 1 then
  redis.call('HDEL', occ, 'vacateAt')
  return 0
end
redis.call('HSET', occ, 'occupied', 1)
return nowMs()
`;

/**
 * KEYS: occ. ARGV: node, grace (ms). Returns {0} (others still hold it), {1, now} (vacant: the caller
 * sends it) or {2, at} (vacant at `at` unless a subscriber comes first).
 */
export const RELEASE_SCRIPT = `${now}
local occ = KEYS[1]
if redis.call('HDEL', occ, 's:' .. ARGV[1]) == 0 then return {0} end
if redis.call('HINCRBY', occ, 'total', -1) > 0 then return {0} end
redis.call('HDEL', occ, 'total')
if redis.call('HEXISTS', occ, 'occupied') == 0 then
  redis.call('DEL', occ)
  return {0}
end
local grace = tonumber(ARGV[2])
if grace == 0 then
  redis.call('DEL', occ)
  return {1, nowMs()}
end
local at = nowMs() + grace
redis.call('HSET', occ, 'vacateAt', at)
return {2, at}
`;

/**
 * KEYS: members, leaving. ARGV: node, client, user field (`u<user>` or `-`), member JSON.
 * Returns {member JSON, now} when it joined (the caller sends it), false when it is the return of a user
 * within the grace (it takes the place of the member who left) or already known.
 */
export const JOIN_SCRIPT = `${now}
local members, leaving = KEYS[1], KEYS[2]
local node, client, userField = ARGV[1], ARGV[2], ARGV[3]
local known = redis.call('HGET', members, client)
if known then
  redis.call('HSET', members, client, node .. string.sub(known, string.find(known, '\\n', 1, true)))
  return false
end
local reported = ARGV[4]
local returning = false
if userField ~= '-' then
  local user = string.sub(userField, 2)
  local list = redis.call('HGET', leaving, user)
  if list then
    local nl = string.find(list, '\\n', 1, true)
    local first = list
    if nl then
      first = string.sub(list, 1, nl - 1)
      redis.call('HSET', leaving, user, string.sub(list, nl + 1))
    else
      redis.call('HDEL', leaving, user)
    end
    reported = string.sub(first, string.find(first, '\\t', 1, true) + 1)
    returning = true
  end
end
redis.call('HSET', members, client, node .. '\\n' .. reported .. '\\n' .. userField)
if returning then return false end
return {reported, nowMs()}
`;

/**
 * KEYS: members, leaving. ARGV: client, grace (ms), a node or "" (then only if that node holds it).
 * Returns false (not a member, or another node's), {member JSON, 0, now} (left: the caller sends it)
 * or {member JSON, at} (leaves at `at` unless the user comes back first).
 */
export const LEAVE_SCRIPT = `${now}
local members, leaving = KEYS[1], KEYS[2]
local value = redis.call('HGET', members, ARGV[1])
if not value then return false end
local a = string.find(value, '\\n', 1, true)
if ARGV[3] ~= '' and string.sub(value, 1, a - 1) ~= ARGV[3] then return false end
redis.call('HDEL', members, ARGV[1])
local b = string.find(value, '\\n', a + 1, true)
local reported, userField = string.sub(value, a + 1, b - 1), string.sub(value, b + 1)
local grace = tonumber(ARGV[2])
local t = nowMs()
if grace == 0 or userField == '-' then return {reported, 0, t} end
local user = string.sub(userField, 2)
local at = t + grace
local item = string.format('%d', at) .. '\\t' .. reported
local list = redis.call('HGET', leaving, user)
if list then item = list .. '\\n' .. item end
redis.call('HSET', leaving, user, item)
return {reported, at}
`;

/**
 * KEYS: occ, leaving. Takes the leaves whose grace is over and the vacancy if its grace is over.
 * Returns {vacated 0|1, now, member JSON…} (the caller sends the leaves, then the vacancy).
 */
export const SETTLE_SCRIPT = `${now}
local occ, leaving = KEYS[1], KEYS[2]
local t = nowMs()
local result = {0, t}
local all = redis.call('HGETALL', leaving)
for i = 1, #all, 2 do
  local keep, count = {}, 0
  for item in string.gmatch(all[i + 1], '[^\\n]+') do
    count = count + 1
    local tab = string.find(item, '\\t', 1, true)
    if tonumber(string.sub(item, 1, tab - 1)) <= t then
      result[#result + 1] = string.sub(item, tab + 1)
    else
      keep[#keep + 1] = item
    end
  end
  if #keep == 0 then redis.call('HDEL', leaving, all[i])
  elseif #keep < count then redis.call('HSET', leaving, all[i], table.concat(keep, '\\n')) end
end
local vacateAt = redis.call('HGET', occ, 'vacateAt')
if vacateAt and tonumber(vacateAt) <= t and redis.call('HEXISTS', occ, 'total') == 0 then
  redis.call('DEL', occ)
  result[1] = 1
end
return result
`;

/**
 * KEYS: occ, members. ARGV: a lost node. Takes away what the node held: its members leave and the channel
 * is vacant if nobody else holds it. Returns {vacated 0|1, now, member JSON…}.
 */
export const REAP_CHANNEL_SCRIPT = `${now}
local occ, members, node = KEYS[1], KEYS[2], ARGV[1]
local result = {0, nowMs()}
if redis.call('HDEL', occ, 's:' .. node) == 1 and redis.call('HINCRBY', occ, 'total', -1) <= 0 then
  redis.call('HDEL', occ, 'total')
end
local all = redis.call('HGETALL', members)
for i = 1, #all, 2 do
  local value = all[i + 1]
  local a = string.find(value, '\\n', 1, true)
  if string.sub(value, 1, a - 1) == node then
    redis.call('HDEL', members, all[i])
    local b = string.find(value, '\\n', a + 1, true)
    result[#result + 1] = string.sub(value, a + 1, b - 1)
  end
end
if redis.call('HEXISTS', occ, 'total') == 0 and redis.call('HEXISTS', occ, 'occupied') == 1 then
  redis.call('DEL', occ)
  result[1] = 1
end
return result
`;

/** KEYS: a lost node's clients. ARGV: how many. Takes up to that many: {client, record JSON, …}. */
export const TAKE_CLIENTS_SCRIPT = `
local taken = redis.call('HRANDFIELD', KEYS[1], tonumber(ARGV[1]), 'WITHVALUES')
for i = 1, #taken, 2 do redis.call('HDEL', KEYS[1], taken[i]) end
return taken
`;

/**
 * KEYS: nodes. ARGV: node, TTL (ms). Renews the node's heartbeat; returns 1 when it was not listed (new,
 * or reaped as lost by the others).
 */
export const HEARTBEAT_SCRIPT = `${now}
return redis.call('ZADD', KEYS[1], nowMs() + tonumber(ARGV[2]), ARGV[1])
`;

/**
 * KEYS: a sorted set of deadlines (due, nodes). ARGV: lease (ms), most to take, a member to skip.
 * Returns the members whose deadline passed, each pushed back by the lease: if the node that took them
 * dies before it is done, another takes them again then (what they decide is still sent once: the
 * scripts above hand each event to one caller).
 */
export const CLAIM_DUE_SCRIPT = `${now}
local t = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, tonumber(ARGV[2]))
local taken = {}
for _, member in ipairs(due) do
  if member ~= ARGV[3] then
    redis.call('ZADD', KEYS[1], 'XX', t + tonumber(ARGV[1]), member)
    taken[#taken + 1] = member
  end
end
return taken
`;
