-- Appends the readings that are not repeats, and remembers that they were seen, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once.
--
-- A reading's identity is its device and its `seq` or, without one, its device and timestamp.
-- For each device and identity space, the dedupe hash keeps what it has not seen yet:
--   `<top>|<floor>|<n>|<a>:<b>,<c>:<d>,…`
-- `top`: every value from it up is unseen (the open gap above everything seen); then `n` closed
-- gaps below it, sorted, inclusive bounds, an empty first bound meaning -infinity. A value in a
-- gap is new and takes its place out of it; any other value from `floor` up was seen. A device
-- numbering its readings 1, 2, 3… only moves `top` up (one gap below its first number: `n` stays
-- 1), however many it sends, and lateness does not matter. Past `max gaps` the lowest gaps are
-- forgotten and `floor` rises above them: values below it (empty: -infinity) can no longer be
-- told apart from repeats and are answered `unknown`, never stored twice.
-- Readings above `top` (nearly all of them) are handled with arithmetic alone; the gap list is
-- parsed only for a reading older than the newest one.
--
-- KEYS[1] stream  KEYS[2] dedupe hash (same hash tag)
-- ARGV[1] max gaps per device and space, the open one included (>= 2)  ARGV[2] 'single' or 'batch'
-- single: ARGV[3] dedupe field  ARGV[4] value  ARGV[5..] the entry's field/value pairs
-- batch:  ARGV[3] received_at  ARGV[4] one line per reading, `<dedupe field>\t<value>\t<length
--         of its JSON>\n`  ARGV[5] the readings as one JSON array, `[<r1>,<r2>,…]`, in that order.
--         The new readings go into one entry: readings <JSON array>, count, received_at; when all
--         are new (nearly always) that is ARGV[5] as it came. Two arguments, not three per
--         reading: encoding 1,500 arguments cost ingest 12 % of its CPU on a batch of 500.
-- Returns { stream id or false, the outcomes as one string, a digit per reading: 0 stored,
--           1 repeat, 2 unknown }
-- All-or-nothing: the HMGET (which fails on a wrong type) runs before XADD, the first write;
-- after XADD, HSET on that checked hash cannot fail.

local max_closed = tonumber(ARGV[1]) - 1
local mode = ARGV[2]

local function int(v) return string.format('%.0f', v) end

-- A device's state while this call runs: top (nil: nothing seen), and the rest of its text,
-- parsed only when a reading needs more than `top` (ensure): floor (nil: -infinity), n, gaps.
local function load(text)
  if not text then return { top = nil, floor = nil, n = 0, gaps = '' } end
  local bar = string.find(text, '|', 1, true)
  return { top = tonumber(string.sub(text, 1, bar - 1)), rest = string.sub(text, bar) }
end

local function ensure(s)
  if not s.rest then return end
  local floor, n, gaps = string.match(s.rest, '^|(%-?%d*)|(%d+)|(.*)$')
  s.floor, s.n, s.gaps, s.rest = tonumber(floor), tonumber(n), gaps, nil
end

local function save(s)
  if s.rest then return int(s.top) .. s.rest end
  return int(s.top) .. '|' .. (s.floor and int(s.floor) or '') .. '|' .. s.n .. '|' .. s.gaps
end

-- Forgets the lowest closed gaps beyond max_closed: what they held becomes unknown.
local function cap(s)
  while s.n > max_closed do
    local comma = string.find(s.gaps, ',', 1, true)
    local lowest = comma and string.sub(s.gaps, 1, comma - 1) or s.gaps
    s.floor = tonumber(string.match(lowest, ':(%-?%d+)$')) + 1
    s.gaps = comma and string.sub(s.gaps, comma + 1) or ''
    s.n = s.n - 1
  end
end

-- Adds the closed gap [a, b] above every other one.
local function push(s, a, b)
  ensure(s)
  local gap = (a and int(a) or '') .. ':' .. int(b)
  s.gaps = s.n > 0 and (s.gaps .. ',' .. gap) or gap
  s.n = s.n + 1
  cap(s)
end

-- A value below `top`: looked up in the parsed gap list. 0 new, 1 seen, 2 forgotten.
local function take_below(s, v)
  ensure(s)
  if s.floor and v < s.floor then return 2 end
  local gaps = {}
  for a, b in string.gmatch(s.gaps, '(%-?%d*):(%-?%d+)') do gaps[#gaps + 1] = { tonumber(a), tonumber(b) } end
  for i, g in ipairs(gaps) do
    local a, b = g[1], g[2]
    if a ~= nil and v < a then return 1 end
    if v <= b then
      local parts = {}
      if a == nil or a <= v - 1 then parts[#parts + 1] = (a and int(a) or '') .. ':' .. int(v - 1) end
      if v + 1 <= b then parts[#parts + 1] = int(v + 1) .. ':' .. int(b) end
      local out = {}
      for j, h in ipairs(gaps) do
        if j == i then
          for _, p in ipairs(parts) do out[#out + 1] = p end
        else
          out[#out + 1] = (h[1] and int(h[1]) or '') .. ':' .. int(h[2])
        end
      end
      s.gaps = table.concat(out, ',')
      s.n = #out
      return 0
    end
  end
  return 1
end

-- 0 new (and now seen), 1 seen before, 2 below what is remembered.
local function take(s, v)
  if s.top == nil then
    s.top = v + 1
    push(s, nil, v - 1)
    return 0
  end
  if v == s.top then
    s.top = v + 1
    return 0
  end
  if v > s.top then
    push(s, s.top, v - 1)
    s.top = v + 1
    return 0
  end
  return take_below(s, v)
end

-- Each reading's dedupe field, value and (batch) JSON length.
local fields, values, lengths = {}, {}, {}
if mode == 'batch' then
  for f, v, len in string.gmatch(ARGV[4], '([^\t]+)\t([^\t]+)\t(%d+)\n') do
    fields[#fields + 1], values[#fields + 1], lengths[#fields + 1] = f, tonumber(v), tonumber(len)
  end
else
  fields[1], values[1] = ARGV[3], tonumber(ARGV[4])
end
local n = #fields
local distinct, states = {}, {}
for r = 1, n do
  local f = fields[r]
  if not states[f] then
    distinct[#distinct + 1] = f
    states[f] = true
  end
end

local stored = redis.call('HMGET', KEYS[2], unpack(distinct))
for i, f in ipairs(distinct) do states[f] = load(stored[i] or nil) end

local outcomes, new, changed = {}, 0, {}
for r = 1, n do
  local outcome = take(states[fields[r]], values[r])
  outcomes[r] = outcome
  if outcome == 0 then
    changed[fields[r]] = true
    new = new + 1
  end
end

local id = false
if mode == 'batch' then
  local readings = ARGV[5]
  if new > 0 and new < n then
    -- Some were repeats: cut the new ones out of the array, by their lengths.
    local kept, at = {}, 2
    for r = 1, n do
      if outcomes[r] == 0 then kept[#kept + 1] = string.sub(readings, at, at + lengths[r] - 1) end
      at = at + lengths[r] + 1
    end
    readings = '[' .. table.concat(kept, ',') .. ']'
  end
  if new > 0 then
    id = redis.call('XADD', KEYS[1], '*', 'readings', readings, 'count', new, 'received_at', ARGV[3])
  end
elseif outcomes[1] == 0 then
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
end

local set = {}
for _, f in ipairs(distinct) do
  if changed[f] then
    set[#set + 1] = f
    set[#set + 1] = save(states[f])
  end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)) end

return { id, table.concat(outcomes) }
