import { Errors, defineError } from '../errors.ts'
import { assertName } from '../tasks/enqueue.ts'
import type { FactoryInfo, ScheduleFactory, ScheduledTask } from './types.ts'

// Factories are code: they exist in the processes that registered them. A schedule
// can only be created for a registered factory, and a durable schedule fires on the
// leader only if the leader has its factory too (else the fire is recorded as failed).

export const SchedulerErrors = {
  scheduleNotFound: defineError('SCHEDULE_NOT_FOUND'),
  factoryExists: defineError('SCHEDULE_FACTORY_EXISTS')
} as const

export const MAX_FACTORIES = 1000

interface Entry { info: FactoryInfo, create: ScheduleFactory }

/**
 * Factories named `<prefix><member>` whose members are data, not code (every stored job
 * is `job:<name>`): any name with the prefix resolves to one, and the factory itself
 * finds out at fire time whether its member still exists (a fire of a deleted one fails).
 */
export interface FactoryFamily {
  prefix: string
  /** the factory of one member */
  create: (member: string) => ScheduleFactory
  describe: (member: string) => string
  durableDefault: boolean
}

export interface FactoryOptions {
  description?: string
  /** durable when CreateSchedule does not say (default true) */
  durable?: boolean
}

export class FactoryRegistry {
  private readonly entries = new Map<string, Entry>()
  private readonly families: FactoryFamily[] = []

  /** registers a family of factories named `<prefix><member>` (see FactoryFamily) */
  registerFamily (family: FactoryFamily): this {
    if (this.families.some(known => known.prefix === family.prefix)) throw SchedulerErrors.factoryExists(`a schedule factory family ${family.prefix}* is already registered`, { details: { factory: family.prefix } })
    this.families.push(family)
    return this
  }

  private familyEntry (name: string): Entry | undefined {
    const family = this.families.find(known => name.startsWith(known.prefix) && name.length > known.prefix.length)
    if (family === undefined) return undefined
    const member = name.slice(family.prefix.length)
    return { info: { name, description: family.describe(member), durableDefault: family.durableDefault }, create: family.create(member) }
  }

  register (name: string, create: ScheduleFactory, options: FactoryOptions = {}): this {
    assertName('factory', name)
    if (typeof create !== 'function') throw Errors.validation(`factory ${name}: must be a function`, { details: { field: 'factory' } })
    if (this.entries.has(name)) throw SchedulerErrors.factoryExists(`schedule factory ${name} is already registered`, { details: { factory: name } })
    if (this.entries.size >= MAX_FACTORIES) throw Errors.validation(`factory: at most ${MAX_FACTORIES} schedule factories`, { details: { field: 'factory' } })
    this.entries.set(name, { info: { name, description: options.description ?? '', durableDefault: options.durable ?? true }, create })
    return this
  }

  /** a factory that enqueues `handler` with a fixed payload: what the *_CRON_HANDLERS settings register */
  registerHandler (handler: string, options: FactoryOptions & { payload?: unknown, queue?: string } = {}): this {
    const task: ScheduledTask = { handler, payload: options.payload ?? {}, ...(options.queue === undefined ? {} : { queue: options.queue }) }
    return this.register(handler, () => task, { description: options.description ?? `enqueues ${handler}`, durable: options.durable ?? true })
  }

  has (name: string): boolean {
    return this.entries.has(name) || this.familyEntry(name) !== undefined
  }

  get (name: string): Entry | undefined {
    return this.entries.get(name) ?? this.familyEntry(name)
  }

  /** a schedule is being created for `name`: an unknown factory is bad input (400 naming the field) */
  require (name: string, field = 'name'): Entry {
    const entry = this.get(name)
    if (entry === undefined) {
      throw Errors.validation(`${field}: no schedule factory named ${JSON.stringify(name)} is registered (known: ${this.names().slice(0, 20).join(', ') || 'none'})`, { details: { field, factory: name } })
    }
    return entry
  }

  names (): string[] {
    return [...this.entries.keys()].sort()
  }

  list (): FactoryInfo[] {
    return this.names().map(name => (this.entries.get(name) as Entry).info)
  }
}
