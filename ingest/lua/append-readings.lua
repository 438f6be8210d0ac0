-- Appends the readings that are new and remembers each one with its fingerprint, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once, and a
-- different reading under an identity already used is refused as a conflict, never dropped.
-- Typed port: ingest/src/store/append-readings.ts (encodes the arguments, decodes the reply, and
-- spells the state format below; call sites never build these arguments by hand).
--
-- A reading's identity is its device and `seq` (space `<site>/<device>`) or, without one, its
-- device and timestamp in ms (space `<site>/<device>@t`). The values of a space fall in chunks:
-- chunk k holds the remembered values v with k * span <= v < (k + 1) * span, each as a record
-- `,<v - k * span>=<fingerprint>`, in arrival order. Per space, the dedupe hash holds (format 3):
--   `<space>`        the header, `newest=<v>;floor=<v>;<n>;<tail>`: the highest value stored,
--                    the lowest value still remembered, how many records the chunk of `newest`
--                    (the open chunk) holds, and its latest records (the tail). Everything from
--                    `floor` up is remembered exactly; below it nothing can be checked, so
--                    nothing is stored there (outcome 2).
--   `<space>#<k>`    chunk k's records apart from a tail: their count, then the records. The
--                    open chunk's older records are here too.
-- A reading above `newest` (nearly all of them) reads and writes the header alone. Its tail is
-- moved into the chunk's field when it outgrows ARGV[7] bytes, and when `newest` moves into a
-- later chunk: Redis's Lua hashes every byte of every string it makes, so a header holding a
-- whole chunk cost a device reporting every second more than the rest of its call (the dedupe
-- rows of docs/performance.md).
-- `floor` follows the newest value up: floor = max(floor, newest - window). The chunks wholly
-- below it are deleted, so a space keeps at most window / span + 1 chunks, each at most `cap`
-- records (a seq chunk's span is its cap): the state, and every call's work, is bounded by
-- construction whatever the order of the readings (DESIGN.md#exactly-once).
--
-- The readings arrive as runs: the port groups a call's readings by space, keeping each space's
-- own order, and cuts them into runs of consecutive readings of one chunk with distinct values.
-- A run is its space, its count, its lowest and highest value, and its records as the chunk
-- stores them. A run wholly above its space's `newest` (a device sending in order: nearly every
-- run) is new without a look and is appended to its chunk as it came: the script's work is per
-- run, not per reading. A device's only run in a call (single readings, mostly) that fits its
-- open chunk's tail goes by lean(), which writes the new header from the old one's text. Any other run is taken reading by reading: a value is found by searching
-- its chunk's tail and text for `,<offset>=` (one C-level scan of a bounded string), never by
-- decoding a list. Chunk fields are read (a second HMGET) only for runs at or below `newest` and
-- for a tail about to move. Per reading, a Lua value, a table entry or a number parsed cost more
-- than the rest of a call.
--
-- KEYS[1] stream  KEYS[2] dedupe hash (same hash tag)
-- ARGV[1] 'single' or 'batch'
-- ARGV[2] time window, ms    ARGV[3] seq window, numbers
-- ARGV[4] time chunk span, ms  ARGV[5] seq chunk span, numbers  ARGV[6] records per time chunk
-- ARGV[7] most bytes a header's tail keeps   ARGV[8] S, the number of spaces
-- ARGV[9] R, the number of runs   ARGV[10 .. 9 + S] the spaces
-- then 5 per run, in the port's order: its space, its number of readings, its lowest value, its
-- highest value, its records `,<offset>=<fingerprint>…`
-- then, single: the entry's field/value pairs (the seed's format)
--       batch: received_at; the readings as one JSON array, `[<r1>,<r2>,…]`, in arrival order,
--       each a flat object whose strings (ids, a date-time) cannot hold a `}`, so that each ends at
--       its first `}`; each reading's place among the runs' readings (from 1), in arrival order,
--       `<place>,…`, or '' when the two orders are the same (read only when some are not new).
--       The new ones go into one entry: readings <JSON array>, count, received_at.
-- Returns { stream id or false, a digit per reading in the runs' order, details }: 0 stored,
-- 1 repeat, 2 below the floor (not stored; cannot be checked), 3 conflict, 4 chunk full,
-- 5 corrupt state; details is a flat list { reading (its place, from 1), text, … } for outcomes
-- 2 (the floor), 3 (the stored fingerprint), 4 (the cap) and 5 (which field).
-- A header or chunk that does not parse fails only the readings that need it (outcome 5), never
-- the call, and is left as it is. A chunk is checked where it is read (its count, the record
-- looked up), not scanned whole: a pattern over its text cost more than the rest of the call.

-- Library functions as locals: a global's lookup costs a table read per use.
local sub, find, match, gmatch, byte, rep, format, concat = string.sub, string.find, string.match, string.gmatch, string.byte, string.rep, string.format, table.concat
local floor_of, abs, to_number, call, argv = math.floor, math.abs, tonumber, redis.call, ARGV

local mode = argv[1]
local WINDOW = { t = to_number(argv[2]), seq = to_number(argv[3]) }
local SPAN = { t = to_number(argv[4]), seq = to_number(argv[5]) }
local CAP = { t = to_number(argv[6]), seq = to_number(argv[5]) }
local TAIL = to_number(argv[7])
local S, R = to_number(argv[8]), to_number(argv[9])
local RUNS = 10 + S
-- Integers a double carries exactly: a header beyond them is corrupt.
local LIMIT = 9007199254740991
-- Most chunks one call deletes for a space: a window of 7 days is 2,016 chunks of 5 minutes. A
-- header from a longer window (set once, then shortened) leaves its oldest chunks behind.
local MAX_WALK = 4096

local function int(v) return format('%.0f', v) end

-- The chunk a value falls in (exact for every integer below 2^53).
local function chunk_of(v, span) return floor_of(v / span) end

-- A header as stored: newest, its text, floor, the open chunk's count, and where its tail
-- starts; nil when absent (a space never seen); false when it does not parse.
local function parse_header(text)
  if not text then return nil end
  local newest_text, floor, n, at = match(text, '^newest=(%-?%d+);floor=(%-?%d+);(%d+);()')
  local newest = to_number(newest_text)
  floor, n = to_number(floor), to_number(n)
  if not newest or abs(newest) > LIMIT or abs(floor) > LIMIT or floor > newest + 1 then return false end
  if at <= #text and byte(text, at) ~= 44 then return false end
  return newest, newest_text, floor, n, at
end

-- A chunk while the call runs. Every field is named in the constructor: a field added later
-- grows the table (a rehash), which cost more than the rest of a small call. `count` is its
-- records in all; `text` its field's text (its records from `at`), once `loaded`; `tail` the
-- header holding its tail (from `tail_at`), for the open chunk; `list` what this call appends
-- (`n` parts), `added` the records appended one by one (by key, for the lookups after them),
-- `appended` the list's text for lookups, rebuilt when `unsearched` (a whole run was appended).
local function new_chunk(field, count, loaded)
  return {
    field = field, count = count, text = '', at = 1, loaded = loaded, corrupt = false,
    tail = false, tail_at = 1, list = false, n = 0, added = false, appended = false,
    unsearched = false, changed = false,
  }
end

-- Reads a chunk's field text (or its absence) into c; corrupt when its count does not parse or
-- no record follows it.
local function load_field(c, text)
  c.loaded = true
  if not text then return end
  local n, at = match(text, '^(%d+)()')
  if not n or (at <= #text and byte(text, at) ~= 44) then
    c.corrupt = true
    return
  end
  c.text, c.at = text, at
  -- The open chunk's count is the header's (its field's and its tail's records).
  if not c.tail then c.count = to_number(n) end
end

-- Appends records (a run's text, or one record's parts) to what the call adds to chunk c.
local function append(c, a, b)
  if not c.list then c.list = {} end
  local n = c.n + 1
  c.list[n] = a
  if b then
    n = n + 1
    c.list[n] = b
  end
  c.n, c.changed = n, true
end

-- The spaces, in order and by name (the same text as a run's: one string in Lua).
local spaces, named = {}, {}
for i = 1, S do
  local space = argv[9 + i]
  local kind = (byte(space, -1) == 116 and byte(space, -2) == 64) and 't' or 'seq' -- `@t`
  spaces[i] = {
    name = space, span = SPAN[kind], window = WINDOW[kind], cap = CAP[kind], chunks = {},
    seen = false, corrupt = false, newest = false, newest_text = false, floor = false,
    old_floor = false, open = false, changed = false, tail_bytes = 0, bad = 'header', runs = 0,
    n = 0, header = false, tail_at = 1,
  }
  named[space] = spaces[i]
end

-- The headers, with their open chunks' counts and tails.
local headers = call('HMGET', KEYS[2], unpack(argv, 10, 9 + S))
for i, s in ipairs(spaces) do
  local newest, newest_text, floor, n, at = parse_header(headers[i] or nil)
  s.corrupt = newest == false
  if newest then
    s.newest, s.newest_text, s.floor, s.seen = newest, newest_text, floor, true
    s.open = chunk_of(newest, s.span)
    s.n, s.header, s.tail_at = n, headers[i], at
    -- Bytes that would stay in the tail: more, and the tail moves into the chunk's field.
    s.tail_bytes = #headers[i] - at + 1
  end
  s.old_floor = s.floor
end

-- The general path's runs, and the chunk fields it reads (one HMGET for all).
local runs, reads, fields = {}, {}, {}
-- What the call writes back (HSET field/value pairs, HDEL fields), and its outcomes: the digits
-- the reply joins, a string per run (numbers would each be formatted), and details.
local set, del = {}, {}
local outcomes, details, new, place = {}, {}, 0, 0

-- The open chunk of a space seen before, made when a run needs it (lean() reads the header alone).
local function open_chunk(s)
  local c = s.chunks[s.open]
  if not c then
    c = new_chunk(false, s.n, false)
    c.tail, c.tail_at = s.header, s.tail_at
    s.chunks[s.open] = c
  end
  return c
end

-- Deletes the chunks the floor leaves behind (keep: the floor's chunk). Fields exist only from the
-- old floor's chunk to the old open one: a bounded walk.
local function forget(s, keep)
  if not s.old_floor then return end
  local top = s.open
  if keep - 1 < top then top = keep - 1 end
  local from = chunk_of(s.old_floor, s.span)
  if top - from > MAX_WALK then from = top - MAX_WALK end
  for k = from, top do del[#del + 1] = s.name .. '#' .. int(k) end
end

-- A device's only run in this call, above its newest and into its open chunk (or its first), with
-- room in the chunk and in its tail: the new header is the old one with the run's records
-- appended, built here without the tables of the general path below. A call of single readings is
-- mostly such runs (the dedupe rows of docs/performance.md). False when the run is not one.
local function lean(s, j, count, lo, hi, hi_text, records)
  if s.corrupt or hi - lo >= s.window then return false end
  local floor, n, tail
  if s.seen then
    if lo <= s.newest or chunk_of(lo, s.span) ~= s.open or s.n + count > s.cap or s.tail_bytes + #records > TAIL then return false end
    floor, n, tail = s.floor, s.n, sub(s.header, s.tail_at)
    if hi - s.window > floor then floor = hi - s.window end
    forget(s, chunk_of(floor, s.span))
  else
    if count > s.cap or #records > TAIL then return false end
    floor, n, tail = hi - s.window, 0, ''
  end
  set[#set + 1] = s.name
  set[#set + 1] = 'newest=' .. hi_text .. ';floor=' .. int(floor) .. ';' .. (n + count) .. ';' .. tail .. records
  outcomes[j] = count == 1 and '0' or rep('0', count)
  new = new + count
  return true
end

-- How many runs each space has in this call (lean() takes a space's only one).
for j = 1, R do
  local s = named[argv[RUNS + 5 * (j - 1)]]
  s.runs = s.runs + 1
end

-- A chunk's field is read when a run may look into it (a run at or below `newest`) or its tail
-- may move into it (its runs' records would outgrow the tail, or a run above the open chunk
-- would close it).
local function read_field(s, k, c)
  if not c.loaded and not c.field then
    c.field = s.name .. '#' .. int(k)
    reads[#reads + 1] = c
    fields[#fields + 1] = c.field
  end
end

-- A run for the general path: its chunk (made if new), the fields it may need read, its table.
local function prepare(j, s, count, lo, hi, hi_text, records)
  local k = chunk_of(lo, s.span)
  local c = (s.seen and k == s.open) and open_chunk(s) or s.chunks[k]
  if not c then
    -- Above the open chunk (or a space never seen) no field was ever written.
    c = new_chunk(false, 0, not s.seen or k > s.open)
    s.chunks[k] = c
  end
  if s.seen and not s.corrupt then
    if k < chunk_of(s.floor, s.span) then
      c.loaded = true -- below the floor: never looked into
    elseif lo <= s.newest then
      read_field(s, k, c)
    end
    if k > s.open then
      read_field(s, s.open, open_chunk(s))
    elseif k == s.open then
      s.tail_bytes = s.tail_bytes + #records
      if s.tail_bytes > TAIL then read_field(s, k, c) end
    end
  end
  runs[j] = { s = s, c = c, k = k, lo = lo, hi = hi, count = count, hi_text = hi_text, records = records }
end

for j = 1, R do
  local a = RUNS + 5 * (j - 1)
  local s = named[argv[a]]
  -- Texts compared before they are parsed: a run of one reading (most, from single readings)
  -- has one number to parse, where each parse costs a strtod.
  local count, lo_text, hi_text, records = argv[a + 1], argv[a + 2], argv[a + 3], argv[a + 4]
  count = count == '1' and 1 or to_number(count)
  local lo = to_number(lo_text)
  local hi = hi_text == lo_text and lo or to_number(hi_text)
  if not (s.runs == 1 and lean(s, j, count, lo, hi, hi_text, records)) then prepare(j, s, count, lo, hi, hi_text, records) end
end
if #fields > 0 then
  local texts = call('HMGET', KEYS[2], unpack(fields))
  for i, c in ipairs(reads) do load_field(c, texts[i] or nil) end
end
for _, s in ipairs(spaces) do
  -- The open chunk is one state in two fields: a bad field makes all of it unreadable, as a bad
  -- header does (its tail could not move into it).
  local open = s.seen and s.chunks[s.open]
  if open and open.corrupt then s.corrupt, s.bad = true, 'chunk ' .. open.field end
end

-- The fingerprint remembered under `key` (`,<offset>=`) in text from `at`: nil when none,
-- false when its record is bad.
local function find_in(text, at, key)
  local i = find(text, key, at, true)
  if not i then return nil end
  local found, after = match(text, '^([%w_%-]+)()', i + #key)
  if not found or (after <= #text and byte(text, after) ~= 44) then return false end
  return found
end

-- The fingerprint remembered under `key` in chunk c: what this call appended, its tail, its
-- field.
local function lookup(c, key)
  local fp = c.added and c.added[key]
  if fp then return fp end
  if c.unsearched then c.appended, c.unsearched = concat(c.list, '', 1, c.n), false end
  local was = nil
  if c.appended then was = find_in(c.appended, 1, key) end
  if was == nil and c.tail then was = find_in(c.tail, c.tail_at, key) end
  if was == nil then was = find_in(c.text, c.at, key) end
  return was
end

-- A stored value above the newest moves the newest and the floor up.
local function raise(s, v, text)
  if not s.seen then
    s.seen, s.newest, s.newest_text, s.floor = true, v, text, v - s.window
  elseif v > s.newest then
    s.newest, s.newest_text = v, text
    if v - s.window > s.floor then s.floor = v - s.window end
  end
  s.changed = true
end

local function detail(r, text)
  details[#details + 1] = r
  details[#details + 1] = text
end
local function what(c) return c.tail and 'header' or 'chunk ' .. (c.field or '') end

-- A reading of a run that is not wholly new: value v, record key, fingerprint; r its place.
local function take(run, r, v, key, fp)
  local s, c = run.s, run.c
  if s.corrupt then
    detail(r, s.bad)
    return '5'
  elseif s.seen and v < s.floor then
    detail(r, int(s.floor))
    return '2'
  elseif c.corrupt then
    detail(r, what(c))
    return '5'
  end
  -- Above `newest` nothing was remembered yet: no need to look.
  local was = nil
  if s.seen and v <= s.newest then was = lookup(c, key) end
  if was == false then
    detail(r, what(c))
    return '5'
  elseif was == fp then
    return '1'
  elseif was then
    detail(r, was)
    return '3'
  elseif c.count >= s.cap then
    detail(r, int(s.cap))
    return '4'
  end
  if not c.added then c.added = {} end
  c.added[key] = fp
  append(c, key, fp)
  c.count = c.count + 1
  raise(s, v, v == run.hi and run.hi_text or int(v))
  return '0'
end

for j = 1, R do
  local run = runs[j]
  local s, c, count = run and run.s, run and run.c, run and run.count
  if not run then
    count = #outcomes[j] -- taken whole by lean()
  elseif not s.corrupt and not c.corrupt and (not s.seen or run.lo > s.newest)
    and run.hi - run.lo < s.window and c.count + count <= s.cap then
    -- Wholly new: no value of it was remembered, none falls below the floor it raises (its
    -- values are less than a window apart), and its chunk has room. Appended as it came.
    append(c, run.records)
    c.count, c.unsearched = c.count + count, true
    raise(s, run.hi, run.hi_text)
    outcomes[j] = count == 1 and '0' or rep('0', count)
    new = new + count
  else
    local base, digits = run.k * s.span, {}
    for off, fp in gmatch(run.records, ',(%d+)=([^,]*)') do
      local outcome = take(run, place + #digits + 1, base + to_number(off), ',' .. off .. '=', fp)
      digits[#digits + 1] = outcome
      if outcome == '0' then new = new + 1 end
    end
    outcomes[j] = concat(digits)
  end
  place = place + count
end
local digits = concat(outcomes)

local id = false
local TAIL_ARGS = RUNS + 5 * R
if mode == 'batch' then
  local json = argv[TAIL_ARGS + 1]
  if new > 0 and new < place then
    -- Some were not new: cut the new ones out of the array, in arrival order.
    local places = argv[TAIL_ARGS + 2]
    local next_place = places ~= '' and gmatch(places, '%d+')
    local kept, from, r = {}, 2, 0
    while true do
      local to = find(json, '}', from, true)
      if not to then break end
      r = r + 1
      if byte(digits, next_place and to_number(next_place()) or r) == 48 then kept[#kept + 1] = sub(json, from, to) end
      from = to + 2
    end
    json = '[' .. concat(kept, ',') .. ']'
  end
  if new > 0 then id = call('XADD', KEYS[1], '*', 'readings', json, 'count', new, 'received_at', argv[TAIL_ARGS]) end
elseif new > 0 then
  id = call('XADD', KEYS[1], '*', unpack(argv, TAIL_ARGS))
end

-- Write back what changed: the header with the open chunk's count and tail; into its field, a
-- chunk's tail and what this call appended to it, unless it is the open chunk and they fit the
-- tail; delete the chunks the floor left behind.
for _, s in ipairs(spaces) do
  local space = s.name
  if s.changed then
    local span = s.span
    local open = chunk_of(s.newest, span)
    local keep = chunk_of(s.floor, span)
    local count, tail = 0, ''
    -- An open chunk no run touched keeps its count and tail.
    if s.header and not s.chunks[s.open] then count, tail = s.n, sub(s.header, s.tail_at) end
    for k, c in pairs(s.chunks) do
      if k >= keep and (c.changed or c.tail) then
        local added = (c.tail and sub(c.tail, c.tail_at) or '') .. (c.n > 0 and concat(c.list, '', 1, c.n) or '')
        if k == open then count = c.count end
        if k == open and #added <= TAIL then
          tail = added
        else
          set[#set + 1] = c.field or space .. '#' .. int(k)
          set[#set + 1] = c.count .. sub(c.text, c.at) .. added
        end
      end
    end
    set[#set + 1] = space
    set[#set + 1] = 'newest=' .. s.newest_text .. ';floor=' .. int(s.floor) .. ';' .. count .. ';' .. tail
    forget(s, keep)
  end
end
if #set > 0 then call('HSET', KEYS[2], unpack(set)) end
-- HDEL in parts: unpack's stack takes a few thousand values at most.
for from = 1, #del, 1000 do call('HDEL', KEYS[2], unpack(del, from, math.min(from + 999, #del))) end

return { id, digits, details }
