-- Runs the BullMQ script defined above as bullmqScript() once per call, all in one
-- round trip. ARGV holds the calls back to back, each as: its number of keys, its
-- number of arguments, then exactly the keys and arguments BullMQ would pass to the
-- script on its own. Returns each call's reply, in order.
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
local replies = {}
local at, keysSet, argsSet = 1, #KEYS, #input
while at <= #input do
  local nk, na = tonumber(input[at]), tonumber(input[at + 1])
  at = at + 2
  for i = 1, math.max(nk, keysSet) do
    if i <= nk then KEYS[i] = input[at + i - 1] else KEYS[i] = nil end
  end
  at = at + nk
  for i = 1, math.max(na, argsSet) do
    if i <= na then ARGV[i] = input[at + i - 1] else ARGV[i] = nil end
  end
  at = at + na
  keysSet, argsSet = nk, na
  replies[#replies + 1] = bullmqScript()
end
return replies
