-- Appends the readings that are new and remembers each one with its fingerprint, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once, and a
-- different reading under an identity already used is refused as a conflict, never dropped.
-- Typed port: ingest/src/store/append-readings.ts (encodes the arguments, decodes the reply, and
-- spells the state format below; call sites never build these arguments by hand).
--
-- A reading's identity is its device and `seq` (space `<site>/<device>`) or, without one, its
-- device and timestamp in ms (space `<site>/<device>@t`). Per space, the dedupe hash holds:
--   `<space>`        the header, `newest=<v>;floor=<v>;<chunk>`: the highest value stored, the
--                    lowest value still remembered, and the chunk `newest` falls in (the open
--                    one). Everything from `floor` up is remembered exactly; below it nothing
--                    can be checked, so nothing is stored there (outcome 2).
--   `<space>#<k>`    closed chunk k. A chunk holds the remembered values v with k * span <= v <
--                    (k + 1) * span: their count, then a record `,<v - k * span>=<fingerprint>`
--                    each, in arrival order.
-- The open chunk lives in the header so that a reading above `newest` (nearly all of them) reads
-- and writes one field, as a device's only state did before; it is written out to its own field
-- when `newest` moves into a later chunk (once per span).
-- `floor` follows the newest value up: floor = max(floor, newest - window). The chunks wholly
-- below it are deleted, so a space keeps at most window / span + 1 chunks, each at most `cap`
-- records (a seq chunk's span is its cap): the state, and every call's work, is bounded by
-- construction whatever the order of the readings (DESIGN.md#exactly-once).
-- Lookups: a value above `newest` is new without a look; any other is found by searching its
-- chunk's text for `,<offset>=` (one C-level scan of a bounded string), never by decoding a list;
-- closed chunks are read (a second HMGET) only for the values below the open one.
-- The readings arrive as one JSON object of columns, decoded by cjson in C: a Lua pattern over a
-- line per reading, and a table per reading, cost more than the rest of a gateway's call. Values
-- and offsets arrive as the texts they are written as, so that the script formats one number per
-- device and call (its floor): string.format is among Lua's dearest calls here (the dedupe rows
-- of docs/performance.md).
--
-- KEYS[1] stream  KEYS[2] dedupe hash (same hash tag)
-- ARGV[1] 'single' or 'batch'
-- ARGV[2] time window, ms    ARGV[3] seq window, numbers
-- ARGV[4] time chunk span, ms  ARGV[5] seq chunk span, numbers  ARGV[6] records per time chunk
-- ARGV[7] the readings, as JSON: { spaces: [space…], space: [index into spaces, from 1…],
--         value: ["<value>"…], offset: ["<value - chunk * span>"…], fingerprint: [fp…],
--         length: [the reading's JSON length in bytes (batch)…] }
-- single: ARGV[8..] the entry's field/value pairs (the seed's format)
-- batch:  ARGV[8] received_at  ARGV[9] the readings as one JSON array, `[<r1>,<r2>,…]`, in that
--         order; the new ones go into one entry: readings <JSON array>, count, received_at.
-- Returns { stream id or false, a digit per reading, details }: 0 stored, 1 repeat, 2 below the
-- floor (not stored; cannot be checked), 3 conflict, 4 chunk full, 5 corrupt state; details is a
-- flat list { reading index (1-based), text, … } for outcomes 2 (the floor), 3 (the stored
-- fingerprint), 4 (the cap) and 5 (which field).
-- A header or chunk that does not parse fails only the readings that need it (outcome 5), never
-- the call, and is left as it is. A chunk is checked where it is read (its count, the record
-- looked up), not scanned whole: a pattern over its text cost more than the rest of the call.

local mode = ARGV[1]
local WINDOW = { t = tonumber(ARGV[2]), seq = tonumber(ARGV[3]) }
local SPAN = { t = tonumber(ARGV[4]), seq = tonumber(ARGV[5]) }
local CAP = { t = tonumber(ARGV[6]), seq = tonumber(ARGV[5]) }
-- Integers a double carries exactly: a header beyond them is corrupt.
local LIMIT = 9007199254740991
-- Most chunks one call deletes for a space: a window of 7 days is 2,016 chunks of 5 minutes. A
-- header from a longer window (set once, then shortened) leaves its oldest chunks behind.
local MAX_WALK = 4096

local function int(v) return string.format('%.0f', v) end

-- The chunk a value falls in (exact for every integer below 2^53).
local floor_of = math.floor
local function chunk_of(v, span) return floor_of(v / span) end

-- A header as stored: newest, its text, floor, and where the open chunk's count starts; nil when
-- absent (a space never seen); false when it does not parse.
local function parse_header(text)
  if not text then return nil end
  local newest_text, floor, at = string.match(text, '^newest=(%-?%d+);floor=(%-?%d+);()')
  local newest = tonumber(newest_text)
  floor = tonumber(floor)
  if not newest or math.abs(newest) > LIMIT or math.abs(floor) > LIMIT or floor > newest + 1 then return false end
  return newest, newest_text, floor, at
end

-- A chunk's state from its text (from `from`): count, text, where its records start; corrupt
-- when its count does not parse or no record follows it.
local function load_chunk(c, text, from)
  local n, at = string.match(text, '^(%d+)()', from)
  c.count, c.text, c.at = tonumber(n), text, at
  c.corrupt = not n or (at <= #text and string.byte(text, at) ~= 44)
  if c.corrupt then c.count = 0 end
end

-- Readings, as columns; the spaces they belong to, in order of first sight.
local input = cjson.decode(ARGV[7])
local order, values, offsets, fps, lengths = input.spaces, input.value, input.offset, input.fingerprint, input.length
local n = #values
local spaces, of, vs = {}, {}, {}
for i, space in ipairs(order) do
  local kind = string.sub(space, -2) == '@t' and 't' or 'seq'
  spaces[i] = { name = space, kind = kind, span = SPAN[kind], window = WINDOW[kind], cap = CAP[kind], chunks = {} }
end
for r = 1, n do
  of[r] = spaces[input.space[r]]
  vs[r] = tonumber(values[r])
end

-- The headers, with their open chunks.
local headers = redis.call('HMGET', KEYS[2], unpack(order))
for i, s in ipairs(spaces) do
  local newest, newest_text, floor, at = parse_header(headers[i] or nil)
  s.corrupt = newest == false
  if newest then
    s.newest, s.newest_text, s.floor, s.seen = newest, newest_text, floor, true
    s.open = chunk_of(newest, s.span)
    local c = { added = {}, list = {}, n = 0, open = true }
    load_chunk(c, headers[i], at)
    s.chunks[s.open] = c
    -- The header is one value: a bad open chunk makes all of it unreadable, so that nothing of
    -- this space is written back (the write-back copies the open chunk).
    s.corrupt = c.corrupt
  end
  s.old_floor = s.floor
end

-- Each reading's chunk: the open one, a closed one (read here, for values below the open one's
-- values: rare), or one never written (above the open one, or a space never seen).
local chunks, closed, fields = {}, {}, {}
for r = 1, n do
  local s = of[r]
  local k = floor_of(vs[r] / s.span)
  local c = s.chunks[k]
  if not c then
    c = { added = {}, list = {}, n = 0, count = 0, text = '', at = 1 }
    s.chunks[k] = c
    if s.seen and k < s.open and k >= chunk_of(s.floor, s.span) then
      closed[#closed + 1] = c
      fields[#fields + 1] = s.name .. '#' .. int(k)
    end
  end
  chunks[r] = c
end
if #fields > 0 then
  local texts = redis.call('HMGET', KEYS[2], unpack(fields))
  for i, c in ipairs(closed) do
    c.field = fields[i]
    if texts[i] then load_chunk(c, texts[i], 1) end
  end
end

-- The fingerprint remembered for `off` in chunk c: nil when none, false when its record is bad.
local function lookup(c, off)
  local fp = c.added[off]
  if fp then return fp end
  local i = string.find(c.text, ',' .. off .. '=', c.at, true)
  if not i then return nil end
  local found, after = string.match(c.text, '^([%w_%-]+)()', i + #off + 2)
  if not found or (after <= #c.text and string.byte(c.text, after) ~= 44) then return false end
  return found
end

-- Outcomes as the digits the reply joins: numbers would each be formatted by table.concat.
local outcomes, details, new = {}, {}, 0
local function detail(r, text)
  details[#details + 1] = r
  details[#details + 1] = text
end
for r = 1, n do
  local s, c, v, off, fp = of[r], chunks[r], vs[r], offsets[r], fps[r]
  local outcome
  if s.corrupt then
    outcome = '5'
    detail(r, 'header')
  elseif s.seen and v < s.floor then
    outcome = '2'
    detail(r, int(s.floor))
  elseif c.corrupt then
    outcome = '5'
    detail(r, c.open and 'header' or 'chunk ' .. (c.field or ''))
  else
    -- Above `newest` nothing was remembered yet: no need to look.
    local was = nil
    if s.seen and v <= s.newest then was = lookup(c, off) end
    if was == false then
      outcome = '5'
      detail(r, c.open and 'header' or 'chunk ' .. (c.field or ''))
    elseif was == fp then
      outcome = '1'
    elseif was then
      outcome = '3'
      detail(r, was)
    elseif c.count >= s.cap then
      outcome = '4'
      detail(r, int(s.cap))
    else
      outcome = '0'
      new = new + 1
      c.added[off] = fp
      -- The record's parts, joined once at the write-back (a string per record cost more).
      local list, at = c.list, c.n
      list[at + 1], list[at + 2], list[at + 3], list[at + 4] = ',', off, '=', fp
      c.n, c.count = at + 4, c.count + 1
      c.changed = true
      if not s.seen then
        s.seen, s.newest, s.newest_text, s.floor = true, v, values[r], v - s.window
      elseif v > s.newest then
        s.newest, s.newest_text = v, values[r]
        if v - s.window > s.floor then s.floor = v - s.window end
      end
      s.changed = true
    end
  end
  outcomes[r] = outcome
end

local id = false
if mode == 'batch' then
  local json = ARGV[9]
  if new > 0 and new < n then
    -- Some were not new: cut the new ones out of the array, by their lengths.
    local kept, from = {}, 2
    for r = 1, n do
      if outcomes[r] == '0' then kept[#kept + 1] = string.sub(json, from, from + lengths[r] - 1) end
      from = from + lengths[r] + 1
    end
    json = '[' .. table.concat(kept, ',') .. ']'
  end
  if new > 0 then id = redis.call('XADD', KEYS[1], '*', 'readings', json, 'count', new, 'received_at', ARGV[8]) end
elseif outcomes[1] == '0' then
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 8))
end

-- Write back what changed: the header with the chunk `newest` is now in, every other chunk that
-- changed (or was the open one) into its own field while it is not below the floor; delete the
-- closed chunks the floor left behind.
local function text_of(c) return c.count .. string.sub(c.text, c.at) .. table.concat(c.list) end
local set, del = {}, {}
for _, s in ipairs(spaces) do
  local space = s.name
  if s.changed then
    local span = s.span
    local open = chunk_of(s.newest, span)
    local keep = chunk_of(s.floor, span)
    set[#set + 1] = space
    set[#set + 1] = 'newest=' .. s.newest_text .. ';floor=' .. int(s.floor) .. ';' .. text_of(s.chunks[open])
    for k, c in pairs(s.chunks) do
      if k ~= open and k >= keep and (c.changed or c.open) then
        set[#set + 1] = space .. '#' .. int(k)
        set[#set + 1] = text_of(c)
      end
    end
    if s.old_floor then
      -- Closed chunks exist only from the old floor's to below the old open one: a bounded walk.
      local top = s.open - 1
      if keep - 1 < top then top = keep - 1 end
      local from = chunk_of(s.old_floor, span)
      if top - from > MAX_WALK then from = top - MAX_WALK end
      for k = from, top do del[#del + 1] = space .. '#' .. int(k) end
    end
  end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)) end
-- HDEL in parts: unpack's stack takes a few thousand values at most.
for from = 1, #del, 1000 do redis.call('HDEL', KEYS[2], unpack(del, from, math.min(from + 999, #del))) end

return { id, table.concat(outcomes), details }
