// Switchyard backend on Redis: ioredis plus one Lua script per multi-key transition.
import type { Backend } from '@switchyard/core'
import { RedisBackend } from './backend.ts'
import { resolveOptions, type RedisBackendInput } from './options.ts'

export { RedisBackendOptionsSchema, resolveOptions, type RedisBackendOptions, type RedisBackendInput } from './options.ts'
export { EvictingMemoryPolicy, assertNoEviction, sendTogether } from './connection.ts'
export { RedisRecords, type RecordKeys, type RecordScriptRunner } from './records.ts'
export { scriptSource, luaLibSource, type LuaLibName } from './scripts.ts'
export { RedisBackend, LIST_SCAN_CAP, PROMOTE_PER_LEASE, SCRIPT_BATCH, MAX_IDS_PER_CALL } from './backend.ts'

/** A Redis backend; call init() before use (it connects and checks the eviction policy). */
export function createRedisBackend (options: RedisBackendInput = {}): Backend {
  return new RedisBackend(resolveOptions(options))
}
export { default } from './plugin.ts'
