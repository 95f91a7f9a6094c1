import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import { luaLibSource, scriptSource, type LuaLibName } from '@switchyard/backend-redis'

// Switchyard's Lua scripts, defined once per connection as ioredis commands (EVALSHA
// with a fallback to EVAL). Task scripts share prelude.lua, which derives a job's
// state from BullMQ's structures. A line `--!include <name>` stands for lua/lib/<name>.lua;
// `--!include backend-redis:<name>` for a helper the Redis backend shares (luaLibSource).

const dir = new URL('./lua/', import.meta.url)
const INCLUDE = /^--!include (backend-redis:)?([\w-]+)\s*$/gm

/** a file of lua/ with its include lines expanded */
export function luaSource (name: string): string {
  return readFileSync(new URL(name, dir), 'utf8').replace(INCLUDE, (_line, shared: string | undefined, lib: string) =>
    shared === undefined ? readFileSync(new URL(`lib/${lib}.lua`, dir), 'utf8') : luaLibSource(lib as LuaLibName))
}
const read = luaSource
// task dependencies (deps.lua) build on the prelude
const prelude = `${read('prelude.lua')}\n${read('deps.lua')}`

const TASK_SCRIPTS = ['get', 'cancel', 'requeue', 'delete', 'recover', 'release', 'extend', 'progress', 'task-action', 'replace', 'release-worker', 'links'] as const
const PLAIN_SCRIPTS = { 'leader-acquire': 3, 'leader-release': 1, 'rate-permits': 2, workers: 4, 'append-events': 3, 'queue-counts': 0, 'delayed-page': 0, 'pending-handlers': 0, 'push-wait': 0, 'push-done': 0 } as const
/** records are kept exactly as the Redis backend keeps them, with its scripts */
const RECORD_SCRIPTS = { 'records-put': 'records_put', 'records-delete': 'records_delete', 'records-list': 'records_list' } as const

const FLOW_SCRIPTS = ['flow-set', 'flow-list'] as const

type TaskScript = typeof TASK_SCRIPTS[number]
type PlainScript = keyof typeof PLAIN_SCRIPTS | keyof typeof RECORD_SCRIPTS | typeof FLOW_SCRIPTS[number]
type Arg = string | number

const commandName = (name: string): string => `sy_${name.replace(/-/g, '_')}`

export function defineScripts (redis: Redis): void {
  for (const name of TASK_SCRIPTS) {
    redis.defineCommand(commandName(name), { numberOfKeys: 0, lua: `${prelude}\n${read(`${name}.lua`)}` })
  }
  for (const [name, numberOfKeys] of Object.entries(PLAIN_SCRIPTS)) {
    redis.defineCommand(commandName(name), { numberOfKeys, lua: read(`${name}.lua`) })
  }
  // flow control: its helpers (flow.lua) ahead of each script
  for (const name of FLOW_SCRIPTS) {
    redis.defineCommand(commandName(name), { numberOfKeys: 0, lua: `${read('flow.lua')}\n${read(`${name}.lua`)}` })
  }
  for (const [name, source] of Object.entries(RECORD_SCRIPTS)) {
    redis.defineCommand(commandName(name), { numberOfKeys: 2, lua: scriptSource(source) })
  }
}

type Runner = Record<string, (...args: Arg[]) => Promise<unknown>>

/** Runs a task script: (queue key base, own key base, queue, job id, ...rest). */
export function runTaskScript (redis: Redis, name: TaskScript, args: Arg[]): Promise<unknown> {
  return (redis as unknown as Runner)[commandName(name)]!(...args)
}

export function runPlainScript (redis: Redis, name: PlainScript, keys: string[], args: Arg[]): Promise<unknown> {
  return (redis as unknown as Runner)[commandName(name)]!(...keys, ...args)
}
