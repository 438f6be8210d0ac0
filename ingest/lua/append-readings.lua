-- Appends the readings that are not repeats, and remembers that they were seen, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once.
--
-- A reading's identity is its device and its `seq` or, without one, its device and timestamp.
-- For each device and identity space, the dedupe hash keeps the values not seen yet as a sorted
-- list of gaps, `a:b,c:d,…,n:` (inclusive bounds; an empty first bound is -infinity, an empty
-- last one +infinity). A value inside a gap is new and splits it; a value between gaps was seen.
-- A device numbering its readings 1, 2, 3… keeps two gaps, whatever their count; lateness does
-- not matter. Past `max gaps` the lowest gap is forgotten, and values below the new lowest gap
-- can no longer be told apart from repeats: they are answered `unknown`, never stored twice.
--
-- KEYS[1] stream  KEYS[2] dedupe hash (same hash tag)
-- ARGV[1] max gaps per device and space (>= 2)  ARGV[2] 'single' or 'batch'
-- single: ARGV[3] dedupe field  ARGV[4] value  ARGV[5..] the entry's field/value pairs
-- batch:  ARGV[3] received_at  ARGV[4..] triples of dedupe field, value, the reading as JSON;
--         the new readings go into one entry: readings <JSON array>, count, received_at
-- Returns { stream id or false, one outcome per reading: 0 stored, 1 repeat, 2 unknown }
-- All-or-nothing: the HMGET (which fails on a wrong type) runs before XADD, the first write;
-- after XADD, HSET on that checked hash cannot fail.

local max_gaps = tonumber(ARGV[1])
local mode = ARGV[2]

local function parse(text)
  local gaps = {}
  for a, b in string.gmatch(text or ':', '(%-?%d*):(%-?%d*)') do
    gaps[#gaps + 1] = { tonumber(a), tonumber(b) }
  end
  return gaps
end

local function format(gaps)
  local out = {}
  for i, g in ipairs(gaps) do
    out[i] = (g[1] and string.format('%.0f', g[1]) or '') .. ':' .. (g[2] and string.format('%.0f', g[2]) or '')
  end
  return table.concat(out, ',')
end

-- 0 new (and now seen), 1 seen before, 2 below what is remembered.
local function take(gaps, v)
  for i, g in ipairs(gaps) do
    local a, b = g[1], g[2]
    if a ~= nil and v < a then return i == 1 and 2 or 1 end
    if b == nil or v <= b then
      local parts = {}
      if a == nil or a <= v - 1 then parts[#parts + 1] = { a, v - 1 } end
      if b == nil or v + 1 <= b then parts[#parts + 1] = { v + 1, b } end
      table.remove(gaps, i)
      for j = #parts, 1, -1 do table.insert(gaps, i, parts[j]) end
      while #gaps > max_gaps do table.remove(gaps, 1) end
      return 0
    end
  end
  return 1
end

-- Where the readings' (field, value[, json]) groups start in ARGV, and how long each is.
local first, step, n = 3, 2, 1
if mode == 'batch' then first, step, n = 4, 3, (#ARGV - 3) / 3 end
local fields, values = {}, {}
local distinct, index = {}, {}
for r = 0, n - 1 do
  local f = ARGV[first + r * step]
  fields[r + 1] = f
  values[r + 1] = tonumber(ARGV[first + r * step + 1])
  if not index[f] then
    distinct[#distinct + 1] = f
    index[f] = #distinct
  end
end

local stored = redis.call('HMGET', KEYS[2], unpack(distinct))
local states = {}
for i, f in ipairs(distinct) do states[f] = parse(stored[i] or nil) end

local outcomes, kept, changed = {}, {}, {}
for r = 1, n do
  local outcome = take(states[fields[r]], values[r])
  outcomes[r] = outcome
  if outcome == 0 then
    changed[fields[r]] = true
    if mode == 'batch' then kept[#kept + 1] = ARGV[first + (r - 1) * step + 2] end
  end
end

local id = false
if mode == 'batch' then
  if #kept > 0 then
    id = redis.call('XADD', KEYS[1], '*', 'readings', '[' .. table.concat(kept, ',') .. ']',
      'count', #kept, 'received_at', ARGV[3])
  end
elseif outcomes[1] == 0 then
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
end

local set = {}
for _, f in ipairs(distinct) do
  if changed[f] then
    set[#set + 1] = f
    set[#set + 1] = format(states[f])
  end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)) end

local reply = { id }
for r = 1, n do reply[r + 1] = outcomes[r] end
return reply
