-- The lease expiry field (syx) written by the HMSET with which BullMQ's moveToActive, or
-- moveToFinished's fetch-next, marks the job it takes active (processedOn, processedBy),
-- instead of by an HSET of its own: on Redis a lease costs about one command time per
-- command it runs (bench/README.md, "BullMQ backend: the lease script's commands").
-- The wrapped BullMQ script calls Redis through leaseCall (bullmq-batch.ts puts it where
-- the script's `local rcall = redis.call` was); every other command passes through as it
-- was. Between leaseFieldArm and leaseFieldTaken, the first job whose lock the script
-- SETs (prepareJobForProcessing: the job it takes) gets the field added to the HMSET of
-- its processedOn that follows. Should BullMQ stop writing a job that way, nothing is
-- added and leaseFieldTaken says so: the caller then writes the field itself.

local leaseExpires, leaseLocked, leaseWritten = nil, nil, nil

local function leaseCall(...)
  if leaseExpires ~= nil then
    local cmd, key, value = ...
    if cmd == 'SET' and leaseLocked == nil and string.sub(key, -5) == ':lock' then
      leaseLocked = string.sub(key, 1, -6)
    elseif cmd == 'HMSET' and value == 'processedOn' and key == leaseLocked then
      local args = { ... }
      args[#args + 1] = 'syx'
      args[#args + 1] = leaseExpires
      leaseExpires, leaseWritten = nil, key
      return redis.call(unpack(args))
    end
  end
  return redis.call(...)
end

-- the next job the wrapped script takes gets syx = expires (epoch ms, a string)
local function leaseFieldArm(expires)
  leaseExpires, leaseLocked, leaseWritten = expires, nil, nil
end

-- After the run: whether the job at jobKey got its syx from it (and the arming ends).
local function leaseFieldTaken(jobKey)
  local written = leaseWritten
  leaseExpires, leaseLocked, leaseWritten = nil, nil, nil
  return written == jobKey
end
