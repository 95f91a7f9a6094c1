// Live updates: the event stream over fetch (so a reconnect can send Last-Event-ID
// itself, resuming exactly after the last event seen), with polling as the fallback
// while the stream is down, and the time of the last update for the stale banner.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { API_PREFIX } from './api.ts'

export interface AdminEvent { id: string, type: string, time: string, data: unknown }

type Listener = (e: AdminEvent) => void
type Status = 'connecting' | 'live' | 'polling' | 'stale'

const STALE_AFTER_MS = 30_000
const RETRY_MS = [1_000, 2_000, 5_000, 10_000]
const HISTORY_MAX = 1_000

class LiveFeed {
  status: Status = 'connecting'
  lastUpdate = Date.now()
  lastEventId: string | null = null
  /** bounded history of what this tab has seen, newest last */
  history: AdminEvent[] = []
  private listeners = new Set<Listener>()
  private subscribers = new Set<() => void>()
  private abort: AbortController | null = null
  private failures = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private snapshot = { status: this.status, lastUpdate: this.lastUpdate, count: 0 }

  start (afterId: string | null = '0'): void {
    if (this.abort !== null) return
    this.lastEventId ??= afterId
    void this.connect()
  }

  stop (): void {
    this.abort?.abort(); this.abort = null
    if (this.timer !== null) clearTimeout(this.timer)
  }

  reconnect (): void {
    this.stop(); this.failures = 0
    this.setStatus('connecting')
    void this.connect()
  }

  /** marks data as fresh (a poll succeeded) */
  touch (): void { this.lastUpdate = Date.now(); this.emitChange() }

  onEvent (fn: Listener): () => void { this.listeners.add(fn); return () => this.listeners.delete(fn) }

  subscribe = (fn: () => void): (() => void) => { this.subscribers.add(fn); return () => this.subscribers.delete(fn) }
  getSnapshot = (): { status: Status, lastUpdate: number, count: number } => this.snapshot

  private setStatus (s: Status): void { this.status = s; this.emitChange() }
  private emitChange (): void {
    this.snapshot = { status: this.status, lastUpdate: this.lastUpdate, count: this.history.length }
    for (const fn of this.subscribers) fn()
  }

  private async connect (): Promise<void> {
    const abort = new AbortController()
    this.abort = abort
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (this.lastEventId !== null) headers['last-event-id'] = this.lastEventId
    try {
      const res = await fetch(`${API_PREFIX}/admin/v1/events`, { headers, credentials: 'same-origin', signal: abort.signal })
      if (!res.ok || res.body === null) throw new Error(`event stream answered ${res.status}`)
      this.failures = 0
      this.setStatus('live')
      this.touch()
      await this.read(res.body, abort.signal)
      throw new Error('event stream ended')
    } catch {
      if (abort.signal.aborted) return
      this.abort = null
      this.failures++
      this.setStatus(Date.now() - this.lastUpdate > STALE_AFTER_MS ? 'stale' : 'polling')
      const delay = RETRY_MS[Math.min(this.failures - 1, RETRY_MS.length - 1)] ?? 10_000
      this.timer = setTimeout(() => { void this.connect() }, delay)
    }
  }

  private async read (body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    while (!signal.aborted) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
        this.handleBlock(block)
      }
    }
  }

  private handleBlock (block: string): void {
    let id: string | null = null
    let event = 'message'
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    this.lastUpdate = Date.now()
    if (id !== null) this.lastEventId = id
    if (data.length === 0) { this.emitChange(); return }
    let parsed: unknown
    try { parsed = JSON.parse(data.join('\n')) } catch { parsed = data.join('\n') }
    const raw = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as Partial<AdminEvent>
    const ev: AdminEvent = {
      id: raw.id ?? id ?? '',
      type: raw.type ?? event,
      time: raw.time ?? new Date().toISOString(),
      data: raw.data !== undefined ? raw.data : parsed
    }
    if (ev.type === 'heartbeat' || ev.type === 'ping') { this.emitChange(); return }
    this.history.push(ev)
    if (this.history.length > HISTORY_MAX) this.history.splice(0, this.history.length - HISTORY_MAX)
    for (const fn of this.listeners) fn(ev)
    this.emitChange()
  }
}

export const live = new LiveFeed()

export function useLiveStatus (): { status: Status, lastUpdate: number, count: number } {
  return useSyncExternalStore(live.subscribe, live.getSnapshot)
}

/**
 * Loads data and keeps it fresh: reloads when an event whose type matches arrives
 * (debounced), and polls every pollMs while the stream is not live.
 */
export function useLiveData<T> (load: () => Promise<T>, deps: unknown[], options: { types?: RegExp, pollMs?: number } = {}): { data: T | undefined, error: unknown, reload: () => void, loading: boolean } {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  const { status } = useLiveStatus()
  useEffect(() => {
    let cancelled = false
    setLoading(true)
    load().then(d => { if (!cancelled) { setData(d); setError(undefined); setLoading(false); live.touch() } },
      (e: unknown) => { if (!cancelled) { setError(e); setLoading(false) } })
    return () => { cancelled = true }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick])
  // one subscription for the component's life: re-subscribing on each render would drop a
  // reload scheduled just before the render that the same event caused
  const types = useRef(options.types)
  types.current = options.types
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | null = null
    const off = live.onEvent(e => {
      if (types.current !== undefined && !types.current.test(e.type)) return
      if (pending === null) pending = setTimeout(() => { pending = null; setTick(t => t + 1) }, 150)
    })
    return () => { off(); if (pending !== null) clearTimeout(pending) }
  }, [])
  useEffect(() => {
    if (status === 'live') return
    const timer = setInterval(() => setTick(t => t + 1), options.pollMs ?? 5_000)
    return () => clearInterval(timer)
  }, [status, options.pollMs])
  return { data, error, loading, reload: () => setTick(t => t + 1) }
}
