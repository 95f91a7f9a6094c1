import { createHash } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { Command, type Cluster, type Redis } from 'ioredis'

// Every multi-key transition is one Lua script in lua/<name>.lua. Scripts share helpers
// through `--!include <lib>` lines, expanded here once at load; ioredis defineCommand then
// runs them with EVALSHA (falling back to EVAL after a script cache flush).

const LUA_DIR = new URL('./lua/', import.meta.url)

/** Number of KEYS each script takes; the rest of its arguments are ARGV. */
export const SCRIPT_KEYS = {
  enqueue: 7,
  lease: 4,
  push_wait: 2,
  push_done: 2,
  complete: 2,
  progress: 1,
  fail: 2,
  extend: 1,
  release: 1,
  recover: 2,
  cancel: 1,
  list: 1,
  requeue: 1,
  delete: 1,
  task_action: 2,
  prune: 1,
  stats: 3,
  dlq_stats: 3,
  pending_handlers: 1,
  /** stats, worker_list, coordination and pending_handlers in one script (the admin overview) */
  overview: 7,
  pending_rebuild: 1,
  queues_ensure: 1,
  queue_set: 2,
  pause_global: 2,
  coordination: 3,
  leader_acquire: 3,
  leader_release: 1,
  rate_set: 1,
  rate_take: 1,
  worker_heartbeat: 2,
  worker_list: 1,
  worker_remove: 2,
  worker_cordon: 2,
  worker_sweep: 1,
  worker_release: 2,
  events_append: 3,
  audit_list: 1,
  audit_prune: 1,
  records_put: 2,
  records_delete: 2,
  records_list: 2,
  flow_set: 3,
  flow_clear: 3,
  flow_list: 2
} as const

export type ScriptName = keyof typeof SCRIPT_KEYS
export type ScriptArg = string | number

const INCLUDE = /^--!include (\w+)\s*$/gm

/** `source` with its include lines expanded, a lib's own includes too; each lib once (the first place it is named) */
function expandIncludes (source: string, included: Set<string>): string {
  return source.replace(INCLUDE, (_line, lib: string) => {
    if (included.has(lib)) return ''
    included.add(lib)
    return expandIncludes(readFileSync(new URL(`lib/${lib}.lua`, LUA_DIR), 'utf8'), included)
  })
}

/** The script's source with its includes expanded. */
export function scriptSource (name: ScriptName): string {
  return expandIncludes(readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'), new Set())
}

/** Shared Lua helpers other Redis-based backends may load, with the data layout they assume (see each file). */
export type LuaLibName = 'flow_window'
const SHARED_LIBS: readonly LuaLibName[] = ['flow_window']

/**
 * The source of one of lua/lib's shared helper files, includes expanded. The BullMQ
 * backend keeps its flow limits in the same layout and loads the limit arithmetic
 * from here, so both backends count rate windows with one piece of Lua.
 */
export function luaLibSource (name: LuaLibName): string {
  if (!SHARED_LIBS.includes(name)) throw new Error(`no shared Lua helper ${String(name)} (shared: ${SHARED_LIBS.join(', ')})`)
  return expandIncludes(`--!include ${name}`, new Set())
}

let sources: Map<ScriptName, string> | undefined

function allSources (): Map<ScriptName, string> {
  if (sources === undefined) {
    sources = new Map((Object.keys(SCRIPT_KEYS) as ScriptName[]).map((name) => [name, scriptSource(name)]))
  }
  return sources
}

/** Names of the lua files on disk, so a test can prove every file is registered. */
export function luaFileNames (): string[] {
  return readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort()
}

const UTF8_REPLY = { replyEncoding: 'utf8' as const }

/**
 * Registers every script on a connection (pipelines call them as `sy_<name>`) and
 * returns a typed caller. The caller sends EVALSHA with the argument array as it is:
 * a batch call carries thousands of arguments, and ioredis's generated script
 * methods take them spread and copy them several times over. A script the server
 * does not know (restart, SCRIPT FLUSH) is sent again as EVAL, which loads it.
 */
export function defineScripts (client: Redis | Cluster): (name: ScriptName, keys: string[], args: ScriptArg[]) => Promise<unknown> {
  const shas = new Map<ScriptName, string>()
  for (const [name, lua] of allSources()) {
    client.defineCommand(`sy_${name}`, { numberOfKeys: SCRIPT_KEYS[name], lua })
    shas.set(name, createHash('sha1').update(lua).digest('hex'))
  }
  return (name, keys, args) => {
    if (keys.length !== SCRIPT_KEYS[name]) throw new Error(`script ${name} takes ${SCRIPT_KEYS[name]} keys, got ${keys.length}`)
    return evalScript(client, { sha: shas.get(name)!, lua: allSources().get(name)! }, keys, args)
  }
}

/** EVALSHA of a script, or EVAL of its source (which loads it) when the server does not know it */
export function evalScript (client: Redis | Cluster, script: { sha: string, lua: string }, keys: string[], args: ScriptArg[]): Promise<unknown> {
  const argv: ScriptArg[] = [script.sha, keys.length]
  for (const key of keys) argv.push(key)
  for (const arg of args) argv.push(arg)
  const call = new Command('evalsha', argv, UTF8_REPLY)
  void client.sendCommand(call)
  return call.promise.catch((err: unknown) => {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err
    argv[0] = script.lua
    const again = new Command('eval', argv, UTF8_REPLY)
    void client.sendCommand(again)
    return again.promise
  })
}
