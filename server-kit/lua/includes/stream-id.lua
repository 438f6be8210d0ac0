-- Stream ids compare as (ms, seq) pairs of integers, not as strings ("9-0" < "10-0").
-- Returns -1, 0 or 1.
local function compare_ids(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then return ams < bms and -1 or 1 end
  aseq, bseq = tonumber(aseq), tonumber(bseq)
  if aseq ~= bseq then return aseq < bseq and -1 or 1 end
  return 0
end
