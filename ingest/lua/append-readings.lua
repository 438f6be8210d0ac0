-- Appends the readings that are not repeats, and remembers that they were seen, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once.
--
-- A reading's identity is its device and its `seq` or, without one, its device and timestamp.
-- For each device and identity space, the dedupe hash keeps what it has not seen yet:
--   `<last>;<floor>;<n>;<hx>;<len>,<d>:<len>,…`
-- `last`: the highest value seen; everything above it is unseen. Then `n` closed gaps below it,
-- highest first: the first by `hx`, its upper bound + 1 (the lowest seen value above it), and
-- its length `len` (upper minus lower bound; empty: it reaches down to -infinity); each next one
-- by `d`, the seen values between it and the gap above, less one, and its length. A value in a
-- gap is new and takes its place out of it; any other value from `floor` up was seen.
-- `floor`: empty for -infinity; with gaps, the seen values between it and the lowest gap, less
-- one; without any, `=` and its value. Past `max gaps` the lowest gaps are forgotten and `floor`
-- rises above them: values below it can no longer be told apart from repeats and are answered
-- `unknown`, never stored twice.
-- Why this shape: relative numbers keep a timestamp device's gaps to a few digits each where
-- absolute bounds took 28 characters (272 bytes per device instead of 624: `npm run
-- bench:memory -- --timestamps`), and so its HMGET, its HSET and every copy the script makes are
-- as much shorter; and a new reading's own text becomes `last` and `hx` as it came, where
-- computing them cost a sprintf each. A device numbering its readings 1, 2, 3… only replaces
-- `last` (one gap below its first number: `n` stays 1), however many it sends, and lateness does
-- not matter: the rest of its text is not even parsed. A reading above `last` (nearly all of the
-- others) adds its gap in front and, past `max gaps`, drops the last one: string work at the two
-- ends. Only a reading older than the newest one decodes the list.
-- A text in the earlier format (`<top>|<floor>|<n>|<a>:<b>,…`, absolute bounds, lowest first,
-- top = last + 1) is read as well, and written back in this one when the device's state changes.
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

-- A device's state while this call runs: last (nil: nothing seen yet) and its text, and the rest
-- of the stored text, parsed only when a reading needs more than `last` (ensure): floor (text, as
-- stored), n and its text, hx (the first gap's upper bound + 1, as text; empty without gaps) and
-- gaps (the text after the fourth `;`). Numbers are kept as the texts they came as wherever they
-- do not change: formatting a number costs Lua a sprintf, a quarter of a microsecond.
local function load(text)
  if not text then return { last = nil, floor = '', n = 0, n_text = '0', hx = '', gaps = '' } end
  local semi = string.find(text, ';', 1, true)
  if semi then
    local last = string.sub(text, 1, semi - 1)
    return { last = tonumber(last), last_text = last, text = text, semi = semi }
  end
  -- The earlier format, `<top>|<floor>|<n>|<a>:<b>,…` (absolute bounds, lowest first), returned
  -- decoded, for encode.
  local top, floor, gaps = string.match(text, '^(%-?%d+)|(%-?%d*)|%d+|(.*)$')
  local list = {}
  for a, b in string.gmatch(gaps, '(%-?%d*):(%-?%d+)') do list[#list + 1] = { tonumber(a), tonumber(b) } end
  local last = tonumber(top) - 1
  return { last = last, last_text = int(last) }, tonumber(floor), list
end

local function ensure(s)
  if not s.text then return end
  local floor, n, hx, at = string.match(s.text, '^;([^;]*);(%d+);(%-?%d*);()', s.semi)
  s.floor, s.n, s.n_text, s.hx, s.gaps, s.text = floor, tonumber(n), n, hx, string.sub(s.text, at), nil
end

local function save(s)
  if s.text then return s.last_text .. string.sub(s.text, s.semi) end
  return s.last_text .. ';' .. s.floor .. ';' .. (s.n_text or int(s.n)) .. ';' .. s.hx .. ';' .. s.gaps
end

-- Calls visit(a, b) for each gap, highest first (a nil: down to -infinity), until it returns
-- a value, which walk returns; else returns nil and the lowest gap's lower bound.
local function walk(s, visit)
  if s.n == 0 then return nil, nil end
  local len, at = string.match(s.gaps, '^(%d*)()')
  local b = tonumber(s.hx) - 1
  local a = len ~= '' and b - tonumber(len) or nil
  local out = visit(a, b)
  if out ~= nil then return out end
  for d, len_ in string.gmatch(string.sub(s.gaps, at), ',(%d+):(%d*)') do
    b = a - tonumber(d) - 2
    a = len_ ~= '' and b - tonumber(len_) or nil
    out = visit(a, b)
    if out ~= nil then return out end
  end
  return nil, a
end

-- The floor (nil: -infinity), given the lowest gap's lower bound.
local function floor_of(s, lowest)
  if s.floor == '' then return nil end
  if string.sub(s.floor, 1, 1) == '=' then return tonumber(string.sub(s.floor, 2)) end
  return lowest - 1 - tonumber(s.floor)
end

-- The gaps as absolute bounds, lowest first ({a, b}, a nil for -infinity), and the floor.
local function decode(s)
  local desc = {}
  local _, lowest = walk(s, function(a, b) desc[#desc + 1] = { a, b } end)
  local list = {}
  for i = #desc, 1, -1 do list[#list + 1] = desc[i] end
  return floor_of(s, lowest), list
end

-- Sets floor, n, hx and gaps from absolute ones (as decode gives them).
local function encode(s, floor, list)
  local n = #list
  s.n, s.n_text, s.text = n, nil, nil
  if n == 0 then
    s.hx, s.gaps = '', ''
  else
    local a, b = list[n][1], list[n][2]
    local parts = { a and int(b - a) or '' }
    s.hx = int(b + 1)
    for i = n - 1, 1, -1 do
      local above = a
      a, b = list[i][1], list[i][2]
      parts[#parts + 1] = int(above - b - 2) .. ':' .. (a and int(b - a) or '')
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
    s.floor = int(list[1][1] - 1 - floor)
  end
end

-- A value in a gap: it leaves it (the gap splits, shrinks or goes). Rare (a late reading), so the
-- list is decoded and encoded whole. Returns 0.
local function fill(s, v)
  local floor, gaps = decode(s)
  for i, g in ipairs(gaps) do
    local a, b = g[1], g[2]
    if (a == nil or a <= v) and v <= b then
      local out = {}
      for j, h in ipairs(gaps) do
        if j == i then
          if a == nil or a <= v - 1 then out[#out + 1] = { a, v - 1 } end
          if v + 1 <= b then out[#out + 1] = { v + 1, b } end
        else
          out[#out + 1] = h
        end
      end
      encode(s, floor, out)
      return 0
    end
  end
end

-- A value not above `last`: 0 new (in a gap), 1 seen, 2 forgotten (below the floor). The gaps
-- are walked highest first without decoding them, and a repeat (the usual reason for a value
-- below `last`: a resend) ends the walk where it is found.
local function take_below(s, v)
  ensure(s)
  local found, lowest = walk(s, function(a, b)
    if v > b then return 1 end
    if a == nil or v >= a then return fill(s, v) end
  end)
  if found then return found end
  -- Below every gap: seen, unless below the floor too.
  local floor = floor_of(s, lowest)
  return floor and v < floor and 2 or 1
end

-- 0 new (and now seen), 1 seen before, 2 below what is remembered. `vt`: v as its text.
local function take(s, v, vt)
  if s.last == nil then
    -- First sight: one gap, from -infinity to just below it.
    s.last, s.last_text, s.floor, s.n, s.n_text, s.hx, s.gaps = v, vt, '', 1, '1', vt, ''
    return 0
  end
  if v == s.last + 1 then
    s.last, s.last_text = v, vt
    return 0
  end
  if v > s.last then
    ensure(s)
    -- A gap [last + 1, v - 1] in front, whose upper bound + 1 is the reading itself. The old first
    -- gap's distance (last - hx: the seen values above it, less one) moves from the header into
    -- the list.
    local len = int(v - s.last - 2)
    if s.n == 0 then
      -- The floor was absolute; the new gap is now the lowest.
      if s.floor ~= '' then s.floor = int(s.last - tonumber(string.sub(s.floor, 2))) end
      s.gaps = len
    else
      s.gaps = len .. ',' .. int(s.last - tonumber(s.hx)) .. ':' .. s.gaps
    end
    -- Past max gaps the last (lowest) are forgotten: the floor rises to just above the one
    -- dropped, which its distance `d` says as it is.
    local n = s.n + 1
    while n > max_closed do
      local keep, d = string.match(s.gaps, '^(.*),(%d+):%d*$')
      s.gaps, s.floor, n = keep, d, n - 1
    end
    if n ~= s.n then s.n, s.n_text = n, nil end
    s.last, s.last_text, s.hx = v, vt, vt
    return 0
  end
  return take_below(s, v)
end

-- Each reading's dedupe field, value and (batch) JSON length.
local fields, values, texts, lengths = {}, {}, {}, {}
if mode == 'batch' then
  for f, v, len in string.gmatch(ARGV[4], '([^\t]+)\t([^\t]+)\t(%d+)\n') do
    local r = #fields + 1
    fields[r], values[r], texts[r], lengths[r] = f, tonumber(v), v, tonumber(len)
  end
else
  fields[1], values[1], texts[1] = ARGV[3], tonumber(ARGV[4]), ARGV[4]
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
  local outcome = take(states[fields[r]], values[r], texts[r])
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
