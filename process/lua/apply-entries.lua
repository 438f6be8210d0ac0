-- Applies a batch of stream entries to the aggregates and acknowledges them: one call per read
-- batch, atomically. An entry counts only if this call's XACK removed it from the group's
-- pending list, so when a slow consumer and the one that claimed its entries both get here,
-- exactly one of them counts each entry. Contributions are folded in Lua tables and every
-- touched key is written once.
--
-- All-or-nothing: every command that can fail runs before the first write (Redis checks memory
-- at a script's first write, and a script's writes are not rolled back when a later command
-- fails). First the types of the streams and sorted sets, then one HMGET per hash touched (a
-- wrong type fails there), then the XACKs, then the writes. A reading whose sum would pass the
-- int64 range of HINCRBY is not added anywhere: it goes to the dead letters (reason `overflow`)
-- in this same call, like an entry that Node found invalid or delivered too often.
--
-- KEYS[1] stream  KEYS[2] stats hash (<prefix>stats)  KEYS[3] dead-letter stream
-- KEYS[4] sites sorted set
-- The aggregate keys are built here from <prefix>, the way contract/src/redis-keys.ts builds them;
-- they share the declared keys' hash tag, so the call stays in one slot of a Redis Cluster.
-- ARGV[1] group  ARGV[2] now, epoch ms (failed_at of dead letters)
-- ARGV[3] JSON { kinds: [bucket kind…], entries: [entry…] } where an entry is one of
--   { id, dead: [reason, detail, deliveries, fields JSON] }   the whole entry to the dead letters
--   { id, deleted: true }                                      gone from the stream: acknowledge only
--   { id, r: [reading…], bad: [[ord, reason, detail, fields JSON]…] }
-- and a reading is [site, device, mW, at ms, power as sent, timestamp as sent, ord in entry,
--   [bucket per kind], reading_id or "", seq or -1]; a bucket is [name, expiry (epoch s; 0 = past
--   retention, skip), span in seconds or 0]: a minute or hour is named by its start (epoch s), a
--   day or month by its date in the site's time zone (`2026-03-29`, `2026-03`), and only those
--   carry a span, since a day lasts 23, 24 or 25 hours.
-- Returns { { outcome per entry: 0 acknowledged elsewhere, 1 applied, 2 dead-lettered },
--           readings applied, readings dead-lettered }

-- @include stream-id
-- @include type-guard

local stream, stats, dead_letters, sites_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, now = ARGV[1], ARGV[2]
local batch = cjson.decode(ARGV[3])
local kinds = batch.kinds
local prefix = string.sub(stats, 1, -6)

-- Beyond this a sum may not fit int64. Lua numbers are doubles, exact to 2^53 but 2048 apart near
-- 2^63; the margin covers both roundings, so HINCRBY never sees an overflow.
local SUM_LIMIT = 9223372036854775808 - 16384
local function int(n) return string.format('%.0f', n) end

expect_type(stream, 'stream')
expect_type(dead_letters, 'stream')
expect_type(stats, 'hash')
expect_type(sites_key, 'zset')

-- 1. Every hash each reading touches, read once, with the fields the writes will need.
local hashes, order = {}, {}
local function hash(key, expire, span)
  local h = hashes[key]
  if not h then
    h = { key = key, expire = expire, span = span, fields = { 'count', 'sum_mw', 'min_w', 'max_w' }, n = 0, dsum = 0, devices = nil }
    hashes[key] = h
    order[#order + 1] = h
  end
  return h
end
local function device_part(h, device)
  h.devices = h.devices or {}
  local d = h.devices[device]
  if not d then
    d = { n = 0, dsum = 0, at = #h.fields + 1 }
    h.devices[device] = d
    h.fields[#h.fields + 1] = 'c:' .. device
    h.fields[#h.fields + 1] = 's:' .. device
  end
  return d
end

local sites = {}
for _, entry in ipairs(batch.entries) do
  for _, r in ipairs(entry.r or {}) do
    local site, device = r[1], r[2]
    local parts = {}
    local dev = hash(prefix .. 'device:' .. site .. '/' .. device)
    if not dev.latest then
      dev.latest = true
      local f = dev.fields
      f[#f + 1] = 'latest_at_ms'; f[#f + 1] = 'latest_id'; f[#f + 1] = 'latest_ord'
    end
    parts[1] = { h = dev }
    parts[2] = { h = hash(prefix .. 'site:' .. site) }
    for i, kind in ipairs(kinds) do
      local b = r[8][i]
      local name, expire, span = b[1], b[2], b[3]
      if expire ~= 0 then
        if type(name) == 'number' then name = int(name) end
        parts[#parts + 1] = { h = hash(prefix .. 'device-' .. kind .. ':' .. site .. '/' .. device .. ':' .. name, expire, span) }
        local sb = hash(prefix .. 'site-' .. kind .. ':' .. site .. ':' .. name, expire, span)
        parts[#parts + 1] = { h = sb, d = device_part(sb, device) }
      end
    end
    r.parts = parts
    if not sites[site] then
      sites[site] = {}
      expect_type(prefix .. 'site-devices:' .. site, 'zset')
    end
  end
end
for _, h in ipairs(order) do
  local v = redis.call('HMGET', h.key, unpack(h.fields))
  h.count = tonumber(v[1]) or 0
  h.sum = tonumber(v[2]) or 0
  h.min, h.max = v[3] or nil, v[4] or nil
  if h.latest then h.latest_at, h.latest_id, h.latest_ord = tonumber(v[5]), v[6] or nil, tonumber(v[7]) or 0 end
  for _, d in pairs(h.devices or {}) do
    d.count = tonumber(v[d.at]) or 0
    d.sum = tonumber(v[d.at + 1]) or 0
  end
end

-- 2. The acknowledgements: from here on every command succeeds.
local outcomes, applied, dead = {}, 0, 0
local counters = { dead_lettered = 0, invalid = 0, overflow = 0 }

local function dead_letter(id, reason, detail, deliveries, fields, ord)
  local args = { 'original_id', id, 'reason', reason, 'detail', detail, 'deliveries', deliveries, 'failed_at', now, 'fields', fields }
  if ord then args[#args + 1] = 'index'; args[#args + 1] = ord end
  redis.call('XADD', dead_letters, '*', unpack(args))
  counters.dead_lettered = counters.dead_lettered + 1
  if counters[reason] then counters[reason] = counters[reason] + 1 end
  dead = dead + 1
end

local function fits(sum, pending, mw)
  local v = sum + pending + mw
  return v < SUM_LIMIT and v > -SUM_LIMIT
end

local function reading_fields(r)
  local f = { site_id = r[1], device_id = r[2], power_reading = r[5], timestamp = r[6] }
  if r[9] ~= '' then f.reading_id = r[9] end
  if r[10] >= 0 then f.seq = r[10] end
  return cjson.encode(f)
end

local function newer(h, at, id, ord)
  if not h.latest_at or at > h.latest_at then return true end
  if at < h.latest_at then return false end
  local c = compare_ids(id, h.latest_id)
  return c > 0 or (c == 0 and ord > h.latest_ord)
end

-- 3. Fold the contributions of the entries this call acknowledged.
for i, entry in ipairs(batch.entries) do
  if redis.call('XACK', stream, group, entry.id) == 0 then
    outcomes[i] = 0
  elseif entry.deleted then
    outcomes[i] = 0
  elseif entry.dead then
    local d = entry.dead
    dead_letter(entry.id, d[1], d[2], d[3], d[4])
    outcomes[i] = 2
  else
    outcomes[i] = 1
    for _, b in ipairs(entry.bad or {}) do dead_letter(entry.id, b[2], b[3], 1, b[4], b[1]) end
    for _, r in ipairs(entry.r) do
      local mw = r[3]
      local ok = true
      for _, p in ipairs(r.parts) do
        if not fits(p.h.sum, p.h.dsum, mw) or (p.d and not fits(p.d.sum, p.d.dsum, mw)) then ok = false end
      end
      if not ok then
        dead_letter(entry.id, 'overflow', 'a sum would pass the int64 range of the aggregates', 1, reading_fields(r), r[7])
      else
        local w = tonumber(r[5])
        for _, p in ipairs(r.parts) do
          local h = p.h
          h.n = h.n + 1
          h.dsum = h.dsum + mw
          if not h.min or w < tonumber(h.min) then h.min, h.min_changed = r[5], true end
          if not h.max or w > tonumber(h.max) then h.max, h.max_changed = r[5], true end
          if p.d then
            p.d.n = p.d.n + 1
            p.d.dsum = p.d.dsum + mw
          end
        end
        local dev = r.parts[1].h
        if newer(dev, r[4], entry.id, r[7]) then
          dev.latest_at, dev.latest_id, dev.latest_ord = r[4], entry.id, r[7]
          dev.latest_fields = { 'latest_at_ms', int(r[4]), 'latest_id', entry.id, 'latest_ord', r[7],
            'latest_timestamp', r[6], 'latest_power', r[5] }
        end
        sites[r[1]][r[2]] = true
        applied = applied + 1
      end
    end
  end
end

-- 4. Each touched key written once.
for _, h in ipairs(order) do
  if h.n > 0 then
    redis.call('HINCRBY', h.key, 'sum_mw', int(h.dsum))
    local set = { 'count', h.count + h.n }
    if h.span and h.span > 0 then set[#set + 1] = 'span_s'; set[#set + 1] = h.span end
    if h.min_changed then set[#set + 1] = 'min_w'; set[#set + 1] = h.min end
    if h.max_changed then set[#set + 1] = 'max_w'; set[#set + 1] = h.max end
    for _, v in ipairs(h.latest_fields or {}) do set[#set + 1] = v end
    for device, d in pairs(h.devices or {}) do
      if d.n > 0 then
        set[#set + 1] = 'c:' .. device
        set[#set + 1] = d.count + d.n
        redis.call('HINCRBY', h.key, 's:' .. device, int(d.dsum))
      end
    end
    redis.call('HSET', h.key, unpack(set))
    if h.expire then redis.call('EXPIREAT', h.key, h.expire) end
  end
end
-- Sorted sets with equal scores, read in id order with ZRANGE BYLEX (paginated queries).
if applied > 0 then
  local zadd = {}
  for site, devices in pairs(sites) do
    local members = {}
    for device in pairs(devices) do
      members[#members + 1] = 0
      members[#members + 1] = device
    end
    if #members > 0 then
      redis.call('ZADD', prefix .. 'site-devices:' .. site, unpack(members))
      zadd[#zadd + 1] = 0
      zadd[#zadd + 1] = site
    end
  end
  redis.call('ZADD', sites_key, unpack(zadd))
  redis.call('HINCRBY', stats, 'processed', applied)
end
for name, n in pairs(counters) do
  if n > 0 then redis.call('HINCRBY', stats, name, n) end
end
return { outcomes, applied, dead }
