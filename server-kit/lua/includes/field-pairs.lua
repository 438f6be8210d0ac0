-- A flat reply of field/value pairs (an entry's fields, an XINFO record) as a table.
local function field_pairs(flat)
  local out = {}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return out
end
