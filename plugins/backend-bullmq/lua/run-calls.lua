-- Runs the BullMQ script defined above as bullmqScript() once per call, all in one
-- script call. input[at..] holds the calls back to back. Consecutive calls of one
-- batch mostly repeat each other (the same queue keys, the same packed options), so
-- each call is sent as a change to the one before: its number of keys, its number
-- of arguments, the number of changed slots, then (slot, value) pairs. Slots number
-- the call's keys then its arguments from 1; every slot of the first call is sent.
-- Before each run KEYS and ARGV hold exactly what BullMQ would pass to the script on
-- its own; beforeRun (optional) may then adjust them, afterRun (optional) sees and
-- may replace the reply. Returns each call's reply, in order. A run that raises an
-- error answers that error in its place and the others still run, so the caller
-- learns which calls went through (as it would had each been a call of its own).
-- The counts and slot numbers are small and repeat from call to call: each distinct one
-- is read with tonumber once per script call (Lua's tonumber is a strtod, ~500
-- instructions; a table lookup of an interned string is a few).
local function runCalls(input, at, beforeRun, afterRun)
  local replies, slots = {}, {}
  local keysSet, argsSet = #KEYS, #ARGV
  local numbers = {}
  local function number(s)
    local n = numbers[s]
    if n == nil then
      n = tonumber(s)
      numbers[s] = n
    end
    return n
  end
  while at <= #input do
    local nk, na, changed = number(input[at]), number(input[at + 1]), number(input[at + 2])
    at = at + 3
    for c = 1, changed do
      slots[number(input[at])] = input[at + 1]
      at = at + 2
    end
    for i = 1, math.max(nk, keysSet) do
      if i <= nk then KEYS[i] = slots[i] else KEYS[i] = nil end
    end
    for i = 1, math.max(na, argsSet) do
      if i <= na then ARGV[i] = slots[nk + i] else ARGV[i] = nil end
    end
    keysSet, argsSet = nk, na
    if beforeRun then beforeRun() end
    local ok, reply = pcall(bullmqScript)
    if not ok then
      if type(reply) ~= 'table' or reply.err == nil then reply = { err = tostring(reply) } end
    elseif afterRun then
      reply = afterRun(reply)
    end
    replies[#replies + 1] = reply
  end
  return replies
end
