-- Applies one reading's contribution and acknowledges its stream entry, atomically.
-- The contribution is applied only if this call's XACK removed the entry from the group's
-- pending list: when a slow consumer and the one that claimed its entry both get here,
-- exactly one of them counts it.
--
-- All-or-nothing: every check that could fail runs before the first write (Redis checks
-- memory at a script's first write, and a script's writes are not rolled back on error).
--
-- KEYS[1] stream         KEYS[2] stats hash          KEYS[3] sites (sorted set, scores 0)
-- KEYS[4] site totals    KEYS[5] site's devices (sorted set, scores 0)  KEYS[6] device totals
-- KEYS[7] device minute  KEYS[8] device hour         KEYS[9] site minute  KEYS[10] site hour
-- ARGV[1] group  ARGV[2] entry id  ARGV[3] site_id  ARGV[4] device_id
-- ARGV[5] power in integer mW  ARGV[6] timestamp in epoch ms  ARGV[7] timestamp as sent
-- ARGV[8] power_reading as sent
-- ARGV[9] minute-bucket expiry, ARGV[10] hour-bucket expiry (epoch s; 0 = past retention, skip)
-- Returns 1 when applied, 0 when the entry was already acknowledged.

local expected = { 'stream', 'hash', 'zset', 'hash', 'zset', 'hash', 'hash', 'hash', 'hash', 'hash' }
for i, want in ipairs(expected) do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. t .. ', expected a ' .. want)
  end
end

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end

local mw = ARGV[5]
local power = tonumber(mw)
local at = tonumber(ARGV[6])
local device = ARGV[4]

-- Stream ids compare as (ms, seq) pairs; used to break ties between equal timestamps.
local function id_after(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(ams) ~= tonumber(bms) then return tonumber(ams) > tonumber(bms) end
  return tonumber(aseq) > tonumber(bseq)
end

-- Count, sum, min and max are order-free: the same readings give the same figures whatever
-- order or consumer applies them. Sums are integer mW so that addition order cannot matter.
local function add(key)
  redis.call('HINCRBY', key, 'count', 1)
  redis.call('HINCRBY', key, 'sum_mw', mw)
  local cur = redis.call('HMGET', key, 'min_mw', 'max_mw')
  if not cur[1] or power < tonumber(cur[1]) then redis.call('HSET', key, 'min_mw', mw) end
  if not cur[2] or power > tonumber(cur[2]) then redis.call('HSET', key, 'max_mw', mw) end
end

-- A site bucket also keeps each device's count and sum, from which the site's energy is the
-- sum of its devices' energies (a mean over all the site's readings would not be).
local function add_bucket(device_key, site_key, expire_at)
  if expire_at == '0' then return end
  add(device_key)
  add(site_key)
  redis.call('HINCRBY', site_key, 'c:' .. device, 1)
  redis.call('HINCRBY', site_key, 's:' .. device, mw)
  redis.call('EXPIREAT', device_key, expire_at)
  redis.call('EXPIREAT', site_key, expire_at)
end

redis.call('HINCRBY', KEYS[2], 'processed', 1)
-- Sorted sets with equal scores, so that the API pages through them in id order (ZRANGE BYLEX).
redis.call('ZADD', KEYS[3], 0, ARGV[3])
redis.call('ZADD', KEYS[5], 0, device)
add(KEYS[4])
add(KEYS[6])
add_bucket(KEYS[7], KEYS[9], ARGV[9])
add_bucket(KEYS[8], KEYS[10], ARGV[10])

-- "Latest" is by measurement time, not arrival, for the same reason.
local latest = redis.call('HMGET', KEYS[6], 'latest_at_ms', 'latest_id')
local newer = not latest[1] or at > tonumber(latest[1])
  or (at == tonumber(latest[1]) and id_after(ARGV[2], latest[2]))
if newer then
  redis.call('HSET', KEYS[6], 'latest_at_ms', ARGV[6], 'latest_id', ARGV[2],
    'latest_timestamp', ARGV[7], 'latest_power', ARGV[8])
end
return 1
