-- Appends the readings that are new and remembers each one with its fingerprint, atomically: two
-- copies of one reading arriving at once (on two replicas, say) still append it once, and a
-- different reading under an identity already used is refused as a conflict, never dropped.
-- Typed port: ingest/src/store/append-readings.ts (encodes the arguments, decodes the reply, and
-- spells the state format below; call sites never build these arguments by hand).
--
-- A reading's identity is its device and `seq` (space `<site>/<device>`) or, without one, its
-- device and timestamp in ms (space `<site>/<device>@t`). Per space, the dedupe hash holds:
--   `<space>`        the header, `newest=<v>;floor=<v>`: the highest value stored, and the lowest
--                    value still remembered. Everything from `floor` up is remembered exactly;
--                    below it nothing can be checked, so nothing is stored there (outcome 2).
--   `<space>#<k>`    chunk k: the remembered values v with k * span <= v < (k + 1) * span, as
--                    records `,<v - k * span>=<fingerprint>` in arrival order.
-- `floor` follows the newest value up: floor = max(floor, newest - window). The chunks wholly
-- below it are deleted, so a space keeps at most window / span + 1 chunks, each at most `cap`
-- records (a seq chunk's span is its cap): the state, and every call's work, is bounded by
-- construction whatever the order of the readings (DESIGN.md#exactly-once).
-- Lookups: a value above `newest` is new without a look; any other is found by searching its
-- chunk's text for `,<offset>=` (one C-level scan of a bounded string), never by decoding a list.
--
-- KEYS[1] stream  KEYS[2] dedupe hash (same hash tag)
-- ARGV[1] 'single' or 'batch'
-- ARGV[2] time window, ms    ARGV[3] seq window, numbers
-- ARGV[4] time chunk span, ms  ARGV[5] seq chunk span, numbers  ARGV[6] records per time chunk
-- ARGV[7] one line per reading: `<space>\t<value>\t<fingerprint>\t<JSON length>\n`
-- single: ARGV[8..] the entry's field/value pairs (the seed's format)
-- batch:  ARGV[8] received_at  ARGV[9] the readings as one JSON array, `[<r1>,<r2>,…]`, in that
--         order; the new ones go into one entry: readings <JSON array>, count, received_at.
-- Returns { stream id or false, a digit per reading, details }: 0 stored, 1 repeat, 2 below the
-- floor (not stored; cannot be checked), 3 conflict, 4 chunk full, 5 corrupt state; details is a
-- flat list { reading index (1-based), text, … } for outcomes 2 (the floor), 3 (the stored
-- fingerprint), 4 (the cap) and 5 (which field).
-- A corrupt header or chunk fails only the readings that need it (outcome 5), never the call.

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

local function kind_of(space)
  if string.sub(space, -2) == '@t' then return 't' end
  return 'seq'
end

-- The chunk a value falls in, and its offset there (exact for every integer below 2^53).
local function chunk_of(v, span)
  local k = math.floor(v / span)
  local off = v - k * span
  if off < 0 then k, off = k - 1, off + span elseif off >= span then k, off = k + 1, off - span end
  return k, off
end

-- A header as stored, or nil and false when it is corrupt. Absent: a space never seen.
local function parse_header(text)
  if not text then return nil, true end
  local newest, floor = string.match(text, '^newest=(%-?%d+);floor=(%-?%d+)$')
  newest, floor = tonumber(newest), tonumber(floor)
  if not newest or math.abs(newest) > LIMIT or math.abs(floor) > LIMIT or floor > newest + 1 then return nil, false end
  return { newest = newest, floor = floor }, true
end

-- Readings: space, value, fingerprint, JSON length. `fields` lists what to read, and `slots` what
-- each field is: a space (its header) or one of its chunks.
local spaces, order, fields, slots = {}, {}, {}, {}
local readings = {}
for space, v, fp, len in string.gmatch(ARGV[7], '([^\t\n]+)\t(%-?%d+)\t([^\t\n]*)\t(%d+)\n') do
  local s = spaces[space]
  if not s then
    s = { kind = kind_of(space), chunks = {} }
    spaces[space], order[#order + 1] = s, space
    fields[#fields + 1] = space
    slots[#fields] = s
  end
  v = tonumber(v)
  local k, off = chunk_of(v, SPAN[s.kind])
  local c = s.chunks[k]
  if not c then
    c = { field = space .. '#' .. int(k), added = {}, list = {} }
    s.chunks[k] = c
    fields[#fields + 1] = c.field
    slots[#fields] = c
  end
  readings[#readings + 1] = { s = s, v = v, fp = fp, len = tonumber(len), chunk = c, off = int(off) }
end

-- One HMGET for every header and chunk the call needs (a chunk depends on the value alone).
local stored = redis.call('HMGET', KEYS[2], unpack(fields))
for i, slot in ipairs(slots) do
  local text = stored[i] or nil
  if slot.kind then
    local header, ok = parse_header(text)
    slot.corrupt = not ok
    if header then slot.newest, slot.floor, slot.seen = header.newest, header.floor, true end
    slot.old_floor, slot.old_newest = slot.floor, slot.newest
  else
    slot.text = text or ''
    -- Records only, `,<digits>=<fingerprint>,…`: a cheap check of the first and of the letters.
    slot.corrupt = slot.text ~= '' and not string.find(slot.text, '^,%d+=[%w_%-]*[,=%w_%-]*$')
  end
end

-- The fingerprint remembered for `off` in chunk c, or nil.
local function lookup(c, off)
  local fp = c.added[off]
  if fp then return fp end
  local i = string.find(c.text, ',' .. off .. '=', 1, true)
  if not i then return nil end
  return string.match(c.text, '^[^,]*', i + #off + 2)
end

local function count(c)
  if not c.count then
    local _, n = string.gsub(c.text, '=', '=')
    c.count = n
  end
  return c.count
end

local outcomes, details, new = {}, {}, 0
for r, x in ipairs(readings) do
  local s, c, v = x.s, x.chunk, x.v
  local outcome
  if s.corrupt then
    outcome = 5
    details[#details + 1] = r
    details[#details + 1] = 'header'
  elseif s.seen and v < s.floor then
    outcome = 2
    details[#details + 1] = r
    details[#details + 1] = int(s.floor)
  elseif c.corrupt then
    outcome = 5
    details[#details + 1] = r
    details[#details + 1] = 'chunk ' .. c.field
  else
    -- Above `newest` nothing was remembered yet: no need to look.
    local was = (s.seen and v <= s.newest) and lookup(c, x.off) or nil
    if was == x.fp then
      outcome = 1
    elseif was then
      outcome = 3
      details[#details + 1] = r
      details[#details + 1] = was
    elseif count(c) >= CAP[s.kind] then
      outcome = 4
      details[#details + 1] = r
      details[#details + 1] = int(CAP[s.kind])
    else
      outcome = 0
      new = new + 1
      c.added[x.off] = x.fp
      c.list[#c.list + 1] = ',' .. x.off .. '=' .. x.fp
      c.count = c.count + 1
      c.changed = true
      if not s.seen then
        s.seen, s.newest, s.floor = true, v, v - WINDOW[s.kind]
      elseif v > s.newest then
        s.newest = v
        if v - WINDOW[s.kind] > s.floor then s.floor = v - WINDOW[s.kind] end
      end
      s.changed = true
    end
  end
  outcomes[r] = outcome
end

local id = false
if mode == 'batch' then
  local json = ARGV[9]
  if new > 0 and new < #readings then
    -- Some were not new: cut the new ones out of the array, by their lengths.
    local kept, from = {}, 2
    for r, x in ipairs(readings) do
      if outcomes[r] == 0 then kept[#kept + 1] = string.sub(json, from, from + x.len - 1) end
      from = from + x.len + 1
    end
    json = '[' .. table.concat(kept, ',') .. ']'
  end
  if new > 0 then id = redis.call('XADD', KEYS[1], '*', 'readings', json, 'count', new, 'received_at', ARGV[8]) end
elseif outcomes[1] == 0 then
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 8))
end

-- Write back what changed; delete the chunks the floor left behind.
local set, del = {}, {}
for _, space in ipairs(order) do
  local s = spaces[space]
  if s.changed then
    set[#set + 1] = space
    set[#set + 1] = 'newest=' .. int(s.newest) .. ';floor=' .. int(s.floor)
    local span = SPAN[s.kind]
    local keep = chunk_of(s.floor, span)
    for k, c in pairs(s.chunks) do
      if c.changed and k >= keep then
        set[#set + 1] = c.field
        set[#set + 1] = c.text .. table.concat(c.list)
      end
    end
    if s.old_floor then
      -- Chunks exist only from the old floor's to the old newest's: a bounded walk.
      local top = chunk_of(s.old_newest, span)
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
