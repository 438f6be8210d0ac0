-- Applies a batch of stream entries to the aggregates and acknowledges them: one call per read
-- batch, atomically. An entry counts only if this call's XACK removed it from the group's
-- pending list, so when a slow consumer and the one that claimed its entries both get here,
-- exactly one of them counts each entry. Node folds each entry's readings into what it adds to
-- each hash (process/src/worker/fold.ts); here whole entries are added to keys, and every touched key
-- is written once, with one HSET.
--
-- All-or-nothing: every command that can fail runs before the first write (Redis checks memory
-- at a script's first write, and a script's writes are not rolled back when a later command
-- fails). First the types of the streams and sorted sets, then one HMGET per hash touched (a
-- wrong type fails there), then the XACKs, then the writes. An entry whose addition would take a
-- sum past the int64 range of the aggregates is not added anywhere: it goes to the dead letters
-- (reason `overflow`) in this same call, like an entry Node found invalid or delivered too often.
--
-- KEYS[1] stream  KEYS[2] stats hash  KEYS[3] dead-letter stream  KEYS[4] sites sorted set
-- The other keys come in ARGV[3], as Node names them (server-kit/src/redis-keys.ts); they share the
-- declared keys' hash tag, so the call stays in one slot of a Redis Cluster.
-- ARGV[1] group  ARGV[2] now, epoch ms (failed_at of dead letters)
-- ARGV[3] JSON { k: [[hash key, kind, expiry, span]…], e: [entry…] }
--   kind: 0 a total or bucket, 1 a device's totals (latest reading), 2 a site bucket (per-device
--   parts); expiry: epoch s, 0 for totals; span: seconds of a day or month bucket, else 0.
--   An entry is one of
--   { id, deleted: true }                                     gone from the stream: acknowledge only
--   { id, dead: [reason, detail, deliveries, fields JSON] }   the whole entry to the dead letters
--   { id, n, c: [share…], z: [[site-devices key, site, [device…]]…], bad: [[ord, reason, detail, fields JSON]…] }
--   and a share is [key index, count, sum mW, min as sent, max as sent, parts, latest] with
--   parts = [[device, count, sum mW]…] (site buckets) and latest = [at ms, ord, timestamp, power].
-- Returns { { outcome per entry: 0 acknowledged elsewhere, 1 applied, 2 dead-lettered },
--           readings applied, entries and readings dead-lettered }

-- @include stream-id
-- @include type-guard
-- @include field-pairs

local stream, stats, dead_letters, sites_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, now = ARGV[1], ARGV[2]
local call = cjson.decode(ARGV[3])

-- Sums are exact in Lua doubles below 2^53; beyond, HINCRBY adds in int64. Past SUM_LIMIT a sum
-- may not fit int64 (doubles are 2048 apart near 2^63; the margin covers both roundings).
local EXACT = 9007199254740992
local SUM_LIMIT = 9223372036854775808 - 16384
local function int(n) return string.format('%.0f', n) end

expect_type(stream, 'stream')
expect_type(dead_letters, 'stream')
expect_type(stats, 'hash')
expect_type(sites_key, 'zset')

-- 1. Every hash the entries touch, read once, with the fields the writes will need.
local hashes = {}
for i, k in ipairs(call.k) do
  hashes[i] = { key = k[1], kind = k[2], expire = k[3], span = k[4], n = 0, dsum = 0, parts = {},
    fields = { 'count', 'sum_mw', 'min_w', 'max_w' } }
  if k[2] == 1 then
    local f = hashes[i].fields
    f[5], f[6], f[7] = 'latest_at_ms', 'latest_id', 'latest_ord'
  end
end
local zkeys = {}
for _, e in ipairs(call.e) do
  for _, c in ipairs(e.c or {}) do
    local h = hashes[c[1]]
    for _, p in ipairs(c[6] or {}) do
      if not h.parts[p[1]] then
        h.parts[p[1]] = { n = 0, dsum = 0, at = #h.fields + 1 }
        h.fields[#h.fields + 1] = 'c:' .. p[1]
        h.fields[#h.fields + 1] = 's:' .. p[1]
      end
    end
  end
  for _, z in ipairs(e.z or {}) do
    if not zkeys[z[1]] then
      zkeys[z[1]] = {}
      expect_type(z[1], 'zset')
    end
  end
end
for _, h in ipairs(hashes) do
  local v = redis.call('HMGET', h.key, unpack(h.fields))
  h.count = tonumber(v[1]) or 0
  h.sum = tonumber(v[2]) or 0
  h.min, h.max = v[3] or nil, v[4] or nil
  h.minv, h.maxv = tonumber(h.min), tonumber(h.max)
  if h.kind == 1 then h.latest_at, h.latest_id, h.latest_ord = tonumber(v[5]), v[6] or nil, tonumber(v[7]) or 0 end
  for _, p in pairs(h.parts) do
    p.count = tonumber(v[p.at]) or 0
    p.sum = tonumber(v[p.at + 1]) or 0
  end
end

-- 2. The acknowledgements: from here on every command succeeds.
local outcomes, applied, dead = {}, 0, 0
local counters = { dead_lettered = 0, invalid = 0, overflow = 0 }
-- The stats hash's counter of each reason (`invalid` predates the reason's name; kept so that
-- stored counts carry on).
local counter_of = { validation_failed = 'invalid', overflow = 'overflow' }

local function dead_letter(id, reason, detail, deliveries, fields, ord)
  local args = { 'original_id', id, 'reason', reason, 'detail', detail, 'deliveries', deliveries, 'failed_at', now, 'fields', fields }
  if ord then args[#args + 1] = 'index'; args[#args + 1] = ord end
  redis.call('XADD', dead_letters, '*', unpack(args))
  counters.dead_lettered = counters.dead_lettered + 1
  local counter = counter_of[reason]
  if counter then counters[counter] = counters[counter] + 1 end
  dead = dead + 1
end

local function fits(sum, pending, add)
  local v = sum + pending + add
  return v < SUM_LIMIT and v > -SUM_LIMIT
end

-- Whether every share of the entry fits every sum it adds to.
local function entry_fits(e)
  for _, c in ipairs(e.c) do
    local h = hashes[c[1]]
    if not fits(h.sum, h.dsum, c[3]) then return false end
    for _, p in ipairs(c[6] or {}) do
      local part = h.parts[p[1]]
      if not fits(part.sum, part.dsum, p[3]) then return false end
    end
  end
  return true
end

-- The entry's fields as JSON, read back from the stream (an entry that overflows is rare).
local function entry_fields(id)
  local found = redis.call('XRANGE', stream, id, id)[1]
  return cjson.encode(found and field_pairs(found[2]) or {})
end

local function add(e)
  for _, c in ipairs(e.c) do
    local h = hashes[c[1]]
    h.n = h.n + c[2]
    h.dsum = h.dsum + c[3]
    local mn, mx = tonumber(c[4]), tonumber(c[5])
    if not h.minv or mn < h.minv then h.min, h.minv, h.min_changed = c[4], mn, true end
    if not h.maxv or mx > h.maxv then h.max, h.maxv, h.max_changed = c[5], mx, true end
    for _, p in ipairs(c[6] or {}) do
      local part = h.parts[p[1]]
      part.n = part.n + p[2]
      part.dsum = part.dsum + p[3]
    end
    local l = c[7]
    if l then
      local later = not h.latest_at or l[1] > h.latest_at
      if not later and l[1] == h.latest_at then
        local order = compare_ids(e.id, h.latest_id)
        later = order > 0 or (order == 0 and l[2] > h.latest_ord)
      end
      if later then
        h.latest_at, h.latest_id, h.latest_ord = l[1], e.id, l[2]
        h.latest_fields = { 'latest_at_ms', int(l[1]), 'latest_id', e.id, 'latest_ord', l[2], 'latest_timestamp', l[3], 'latest_power', l[4] }
      end
    end
  end
  for _, z in ipairs(e.z) do
    local members = zkeys[z[1]]
    members.site = z[2]
    for _, device in ipairs(z[3]) do members[#members + 1] = device end
  end
  applied = applied + e.n
end

for i, e in ipairs(call.e) do
  if redis.call('XACK', stream, group, e.id) == 0 then
    outcomes[i] = 0
  elseif e.deleted then
    outcomes[i] = 0
  elseif e.dead then
    dead_letter(e.id, e.dead[1], e.dead[2], e.dead[3], e.dead[4])
    outcomes[i] = 2
  elseif not entry_fits(e) then
    dead_letter(e.id, 'overflow', 'a sum would pass the int64 range of the aggregates', 1, entry_fields(e.id))
    outcomes[i] = 2
  else
    for _, b in ipairs(e.bad or {}) do dead_letter(e.id, b[2], b[3], 1, b[4], b[1]) end
    add(e)
    outcomes[i] = 1
  end
end

-- 3. Each touched key written once.
for _, h in ipairs(hashes) do
  if h.n > 0 then
    local set = { 'count', h.count + h.n }
    local total = h.sum + h.dsum
    if math.abs(h.sum) < EXACT and math.abs(total) < EXACT then
      set[#set + 1] = 'sum_mw'; set[#set + 1] = int(total)
    else
      redis.call('HINCRBY', h.key, 'sum_mw', int(h.dsum))
    end
    if h.min_changed then set[#set + 1] = 'min_w'; set[#set + 1] = h.min end
    if h.max_changed then set[#set + 1] = 'max_w'; set[#set + 1] = h.max end
    for _, v in ipairs(h.latest_fields or {}) do set[#set + 1] = v end
    for device, p in pairs(h.parts) do
      if p.n > 0 then
        set[#set + 1] = 'c:' .. device
        set[#set + 1] = p.count + p.n
        local part_total = p.sum + p.dsum
        if math.abs(p.sum) < EXACT and math.abs(part_total) < EXACT then
          set[#set + 1] = 's:' .. device; set[#set + 1] = int(part_total)
        else
          redis.call('HINCRBY', h.key, 's:' .. device, int(p.dsum))
        end
      end
    end
    -- A bucket's expiry and span depend only on its own time: set once, when it is created.
    if h.count == 0 and h.span > 0 then set[#set + 1] = 'span_s'; set[#set + 1] = h.span end
    redis.call('HSET', h.key, unpack(set))
    if h.count == 0 and h.expire > 0 then redis.call('EXPIREAT', h.key, h.expire) end
  end
end

-- Sorted sets with equal scores, read in id order with ZRANGE BYLEX (paginated queries).
local sites = {}
for key, members in pairs(zkeys) do
  if #members > 0 then
    local zadd = {}
    for _, device in ipairs(members) do
      zadd[#zadd + 1] = 0
      zadd[#zadd + 1] = device
    end
    redis.call('ZADD', key, unpack(zadd))
    sites[#sites + 1] = 0
    sites[#sites + 1] = members.site
  end
end
if #sites > 0 then redis.call('ZADD', sites_key, unpack(sites)) end
if applied > 0 then redis.call('HINCRBY', stats, 'processed', applied) end
for name, n in pairs(counters) do
  if n > 0 then redis.call('HINCRBY', stats, name, n) end
end
return { outcomes, applied, dead }
