import type { Unsubscribe } from '@switchyard/core'
import type { RedisClient } from './connection.ts'

// One subscriber connection per backend, shared by every listener: idle workers wake
// on the PUBLISH a script issues (about a millisecond) instead of polling.

type Listener = (message: string) => void

export class Subscriptions {
  private subscriber: RedisClient | null = null
  private connecting: Promise<RedisClient> | null = null
  private readonly listeners = new Map<string, Set<Listener>>()

  constructor (private readonly client: RedisClient) {}

  private connection (): Promise<RedisClient> {
    if (this.connecting === null) {
      this.connecting = (async () => {
        const sub = this.client.duplicate()
        sub.on('error', () => {}) // reconnects on its own; errors surface on the main client
        sub.on('message', (channel: string, message: string) => {
          for (const listener of this.listeners.get(channel) ?? []) {
            try { listener(message) } catch { /* a listener's failure must not stop the others */ }
          }
        })
        if (sub.status === 'wait') await sub.connect()
        this.subscriber = sub
        return sub
      })()
    }
    return this.connecting
  }

  async subscribe (channel: string, listener: Listener): Promise<Unsubscribe> {
    const sub = await this.connection()
    let set = this.listeners.get(channel)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(channel, set)
      await sub.subscribe(channel)
    }
    set.add(listener)
    return async () => {
      const current = this.listeners.get(channel)
      if (current === undefined || !current.delete(listener) || current.size > 0) return
      this.listeners.delete(channel)
      if (this.subscriber !== null && this.subscriber.status === 'ready') await this.subscriber.unsubscribe(channel)
    }
  }

  async close (): Promise<void> {
    this.listeners.clear()
    const sub = this.subscriber
    this.subscriber = null
    this.connecting = null
    if (sub !== null) sub.disconnect()
  }
}
