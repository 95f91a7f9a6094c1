// One worker process of the scale-out benchmark (started by bench/scale-out.ts through
// child_process.fork, its spec as the one argument). It opens the shared backend, says
// ready, starts a Switchyard worker on "go", and on "stop" stops it and answers the task
// numbers its handler ran and the CPU it spent. The handler records ids in memory, not
// in the backend, so proving "no task ran twice" adds no load to the server measured.
import { createWorker, silentLogger, type Worker } from '../../core/worker/index.ts'
import { openBackend, PROGRESS_EVERY_MS, SCALE_OUT_HANDLER, SCALE_OUT_QUEUE, type ParentMessage, type WorkerMessage, type WorkerSpec } from './scale-out-protocol.ts'

function send (message: WorkerMessage): void {
  process.send?.(message)
}

/** sends the last message, then closes the channel: disconnecting at once can drop a large message still being written */
function sendLast (message: WorkerMessage): void {
  if (process.send === undefined) return
  process.send(message, undefined, {}, () => { process.disconnect() })
}

function errorText (err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}

async function main (): Promise<void> {
  if (process.send === undefined) throw new Error('scale-out-worker runs as a child of bench/scale-out.ts (it needs the IPC channel)')
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('scale-out-worker: missing the worker spec argument (JSON)')
  const spec = JSON.parse(raw) as WorkerSpec
  const backend = await openBackend(spec.backend)
  const ids: number[] = []
  let worker: Worker | null = null
  let cpuAtGo: NodeJS.CpuUsage | null = null
  let reported = 0
  const progress = setInterval(() => {
    if (ids.length !== reported) {
      reported = ids.length
      send({ type: 'progress', handled: reported })
    }
  }, PROGRESS_EVERY_MS)

  let stopping = false
  // the parent went away without a stop (it failed or was killed): do not linger
  process.on('disconnect', () => { if (!stopping) process.exit(1) })

  const stop = async (): Promise<void> => {
    stopping = true
    clearInterval(progress)
    // stop() lets running handlers finish and flushes their acks before it resolves
    if (worker !== null) await worker.stop()
    const cpu = process.cpuUsage(cpuAtGo ?? undefined)
    await backend.close()
    sendLast({ type: 'done', ids, cpuMs: Math.round((cpu.user + cpu.system) / 1000) })
  }

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'go' && worker === null) {
      cpuAtGo = process.cpuUsage()
      worker = createWorker({
        backend,
        handlers: { [SCALE_OUT_HANDLER]: (payload: unknown) => { ids.push((payload as { i: number }).i) } },
        options: { ...spec.worker, queues: [SCALE_OUT_QUEUE] },
        log: silentLogger,
        ...(spec.taskEvents ? {} : { events: false as const })
      })
      worker.start().catch((err: unknown) => { send({ type: 'failed', error: errorText(err) }) })
    } else if (message.type === 'stop') {
      stop().catch((err: unknown) => { sendLast({ type: 'failed', error: errorText(err) }) })
    }
  })
  send({ type: 'ready' })
}

main().catch((err: unknown) => {
  process.exitCode = 1
  sendLast({ type: 'failed', error: errorText(err) })
})
