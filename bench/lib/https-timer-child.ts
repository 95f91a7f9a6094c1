// The admin-reads HTTPS client (https-timer.ts) in a process of its own, started by
// https-timer-process.ts through child_process.fork with its spec as the one argument:
// its TLS, parsing, timers and garbage collection stay off the event loop of the
// service being measured. It answers the parent's requests one at a time.
import { createHttpsTimer } from './https-timer.ts'
import type { TimerReply, TimerRequest, TimerSpec } from './https-timer-protocol.ts'

function errorText (err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}

function main (): void {
  if (process.send === undefined) throw new Error('https-timer-child runs as a child of bench/lib/https-timer-process.ts (it needs the IPC channel)')
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('https-timer-child: missing the spec argument (JSON)')
  const timer = createHttpsTimer(JSON.parse(raw) as TimerSpec)

  const answer = async (request: TimerRequest): Promise<TimerReply> => {
    try {
      if (request.type === 'get') return { type: 'got', id: request.id, ...await timer.get(request.path, request.port) }
      return { type: 'timed', id: request.id, ...await timer.time(request.path, request.count, request.port) }
    } catch (err) {
      return { type: 'failed', id: request.id, error: errorText(err) }
    }
  }

  // the parent closes the channel when done, or went away: either way, end the connection and exit
  process.on('disconnect', () => { void timer.close() })
  process.on('message', (request: TimerRequest) => {
    void answer(request).then((reply) => { if (process.connected) process.send?.(reply) })
  })
}

main()
