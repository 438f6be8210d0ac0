-- Appends the readings that are not repeats, and remembers that they were seen, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once.
--
-- A reading's identity is its device and its `seq` or, without one, its device and timestamp.
-- For each device and identity space, the dedupe hash keeps what it has not seen yet:
--   `<top>;<floor>;<n>;<high>;<len>,<d>:<len>,…`
-- `top`: every value from it up is unseen (the open gap above everything seen); then `n` closed
-- gaps below it, highest first: the first by its upper bound `high` and its length `len` (upper
-- minus lower bound; empty: it reaches down to -infinity), each next one by its distance `d`
-- below the lower bound of the one above it, counted to its upper bound, and its length. A value
-- in a gap is new and takes its place out of it; any other value from `floor` up was seen.
-- `floor`: empty for -infinity; with gaps, how far it lies below the lowest gap's lower bound;
-- without any, `=` and its value. Past `max gaps` the lowest gaps are forgotten and `floor` rises
-- above them: values below it can no longer be told apart from repeats and are answered
-- `unknown`, never stored twice.
-- Relative numbers keep a timestamp device's gaps to a few digits each where absolute bounds took
-- 28 characters: its state is 272 bytes instead of 624 (`npm run bench:memory -- --timestamps`),
-- and its HMGET, its HSET and each copy the script makes are as much shorter.
-- A device numbering its readings 1, 2, 3… only moves `top` up (one gap below its first number:
-- `n` stays 1), however many it sends, and lateness does not matter: the rest of its text is not
-- even parsed. A reading above `top` (nearly all of them) adds its gap in front and, past
-- `max gaps`, drops the last one: string work at the two ends. Only a reading older than the
-- newest one decodes the list.
-- A text in the earlier format (`<top>|<floor>|<n>|<a>:<b>,…`, absolute bounds, lowest first) is
-- read as well, and written back in this one when the device's state changes.
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

-- A device's state while this call runs: top (nil: nothing seen yet), and its text, parsed only
-- when a reading needs more than `top` (ensure): floor (text, as stored), n, high (the highest
-- gap's upper bound, nil without gaps) and gaps (the text after the fourth `;`).
local function load(text)
  if not text then return { top = nil, floor = '', n = 0, high = nil, gaps = '' } end
  local semi = string.find(text, ';', 1, true)
  if semi then return { top = tonumber(string.sub(text, 1, semi - 1)), text = text, semi = semi } end
  -- The earlier format: absolute bounds, lowest first. Returned decoded, for encode.
  local top, floor, gaps = string.match(text, '^(%-?%d+)|(%-?%d*)|%d+|(.*)$')
  local list = {}
  for a, b in string.gmatch(gaps, '(%-?%d*):(%-?%d+)') do list[#list + 1] = { tonumber(a), tonumber(b) } end
  return { top = tonumber(top) }, tonumber(floor), list
end

local function ensure(s)
  if not s.text then return end
  local floor, n, high, at = string.match(s.text, '^;([^;]*);(%d+);(%-?%d*);()', s.semi)
  s.floor, s.n, s.high, s.gaps, s.text = floor, tonumber(n), tonumber(high), string.sub(s.text, at), nil
end

local function save(s)
  if s.text then return int(s.top) .. string.sub(s.text, s.semi) end
  return int(s.top) .. ';' .. s.floor .. ';' .. s.n .. ';' .. (s.high and int(s.high) or '') .. ';' .. s.gaps
end

-- The gaps as absolute bounds, lowest first ({a, b}, a nil for -infinity), and the floor (nil:
-- -infinity).
local function decode(s)
  local desc = {}
  if s.n > 0 then
    local len, at = string.match(s.gaps, '^(%d*)()')
    local above = len ~= '' and s.high - tonumber(len) or nil
    desc[1] = { above, s.high }
    for d, len_ in string.gmatch(string.sub(s.gaps, at), ',(%d+):(%d*)') do
      local b = above - tonumber(d)
      local a = len_ ~= '' and b - tonumber(len_) or nil
      desc[#desc + 1] = { a, b }
      above = a
    end
  end
  local list = {}
  for i = #desc, 1, -1 do list[#list + 1] = desc[i] end
  local floor = nil
  if string.sub(s.floor, 1, 1) == '=' then
    floor = tonumber(string.sub(s.floor, 2))
  elseif s.floor ~= '' then
    floor = list[1][1] - tonumber(s.floor)
  end
  return floor, list
end

-- Sets floor, n, high and gaps from absolute ones (as decode gives them).
local function encode(s, floor, list)
  local n = #list
  s.n, s.text = n, nil
  if n == 0 then
    s.high, s.gaps = nil, ''
  else
    local a, b = list[n][1], list[n][2]
    local parts = { a and int(b - a) or '' }
    s.high = b
    for i = n - 1, 1, -1 do
      local above = a
      a, b = list[i][1], list[i][2]
      parts[#parts + 1] = int(above - b) .. ':' .. (a and int(b - a) or '')
    end
    s.gaps = table.concat(parts, ',')
  end
  if floor == nil then
    s.floor = ''
  elseif n == 0 then
    s.floor = '=' .. int(floor)
  elseif list[1][1] == nil then
    -- A gap down to -infinity leaves nothing below it to forget.
    s.floor = ''
  else
    s.floor = int(list[1][1] - floor)
  end
end

-- A value below `top`: looked up in the decoded gaps. 0 new, 1 seen, 2 forgotten.
local function take_below(s, v)
  ensure(s)
  local floor, gaps = decode(s)
  if floor and v < floor then return 2 end
  for i, g in ipairs(gaps) do
    local a, b = g[1], g[2]
    if a ~= nil and v < a then return 1 end
    if v <= b then
      local parts = {}
      if a == nil or a <= v - 1 then parts[#parts + 1] = { a, v - 1 } end
      if v + 1 <= b then parts[#parts + 1] = { v + 1, b } end
      local out = {}
      for j, h in ipairs(gaps) do
        if j == i then
          for _, p in ipairs(parts) do out[#out + 1] = p end
        else
          out[#out + 1] = h
        end
      end
      encode(s, floor, out)
      return 0
    end
  end
  return 1
end

-- 0 new (and now seen), 1 seen before, 2 below what is remembered.
local function take(s, v)
  if s.top == nil then
    -- First sight: one gap, from -infinity to just below it.
    s.top, s.floor, s.n, s.high, s.gaps = v + 1, '', 1, v - 1, ''
    return 0
  end
  if v == s.top then
    s.top = v + 1
    return 0
  end
  if v > s.top then
    ensure(s)
    -- A gap [top, v - 1] in front. The old first gap's upper bound moves out of the header and
    -- becomes its distance below the new gap's lower bound (the old top).
    local len = int(v - 1 - s.top)
    if s.n == 0 then
      -- The floor was absolute; the new gap is now the lowest.
      if s.floor ~= '' then s.floor = int(s.top - tonumber(string.sub(s.floor, 2))) end
      s.gaps = len
    else
      s.gaps = len .. ',' .. int(s.top - s.high) .. ':' .. s.gaps
    end
    s.top, s.high, s.n = v + 1, v - 1, s.n + 1
    -- Past max gaps the last (lowest) is forgotten: the floor rises to just above it, which is
    -- its distance `d` below the gap above it, less one.
    while s.n > max_closed do
      local keep, d = string.match(s.gaps, '^(.*),(%d+):%d*$')
      s.gaps, s.floor, s.n = keep, int(tonumber(d) - 1), s.n - 1
    end
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
for i, f in ipairs(distinct) do
  local s, old_floor, old_gaps = load(stored[i] or nil)
  if old_gaps then encode(s, old_floor, old_gaps) end
  states[f] = s
end

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
