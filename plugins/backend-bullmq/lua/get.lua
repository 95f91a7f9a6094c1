-- Returns {state, job hash as a flat list, delayed score or false}.
local state = jobState(base, queue, id)
if state == nil then return false end
local score = rcall('ZSCORE', base .. 'delayed', id)
return {state, rcall('HGETALL', base .. id), score or false}
