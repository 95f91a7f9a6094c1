-- ARGV: the calls, as runCalls (run-calls.lua) reads them.
local input = {}
for i = 1, #ARGV do input[i] = ARGV[i] end
return runCalls(input, 1)
