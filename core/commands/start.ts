import { createSwitchyard } from '../app.ts'
import { dirname } from 'node:path'
import type { Worker } from '../worker/index.ts'

export interface StartMode {
  /** 'config': as the config says (on for the embedded default); 'off': never */
  demo: 'config' | 'off'
  /** serve the admin contract (gRPC + HTTPS gateway) from this process */
  listen: boolean
}

/** Runs until SIGINT/SIGTERM, then shuts down gracefully; a second signal exits at once. */
export async function runStart (values: Record<string, string | boolean | undefined>, mode: StartMode): Promise<number> {
  const started = Date.now()
  const sy = await createSwitchyard({ configFile: typeof values.config === 'string' ? values.config : undefined, demo: mode.demo === 'config' ? undefined : false, listen: mode.listen })
  await sy.start()
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  out(`switchyard ${sy.version} started in ${Date.now() - started} ms`)
  out(`  backend:  ${sy.describeBackend()}`)
  out(`  config:   ${sy.configFile ?? 'embedded default (no config file)'}`)
  out(`  worker:   ${sy.config.worker.enabled ? `concurrency ${sy.config.worker.concurrency}, queues ${sy.config.worker.queues?.join(', ') ?? 'all'}` : 'disabled'}`)
  out(`  handlers: ${sy.handlers.names().join(', ') || '(none registered)'}`)
  const listeners = sy.listeners
  if (listeners !== null) {
    out(`  gateway:  https://${listeners.httpAddress}/admin/v1 (mutual TLS)`)
    out(`  grpc:     ${listeners.grpcAddress ?? ''} (worker.v1.AdminService, mutual TLS)`)
  }
  const dev = sy.devCertificates
  if (dev !== null && listeners !== null) {
    out(`  certs:    ${dev.created ? 'generated' : 'using'} development certificates in ${dirname(dev.paths.ca)}`)
    out(`            CA ${dev.paths.ca}`)
    out(`            client ${dev.paths.client} (key ${dev.paths.clientKey})`)
    out('  try:      curl --cert ' + dev.paths.client + ' --key ' + dev.paths.clientKey + ' --cacert ' + dev.paths.ca + ` https://${listeners.httpAddress}/admin/v1/overview`)
  }
  if (sy.demoEnabled) out('  demo:     on — demo handlers noop/sleep/fail and a trickle of demo tasks (payload "demo": true); set demo.enabled: false to turn off')
  out('Press Ctrl-C to stop.')
  const stopStatus = sy.worker === null ? () => {} : startStatusLine(sy.worker, out)

  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`switchyard: ${signal} again, exiting without waiting\n`)
        process.exit(130)
      }
      stopping = true
      stopStatus()
      out(`\n${signal} received: finishing in-flight tasks (up to ${sy.config.worker.shutdownGraceMs} ms)…`)
      sy.close().then(() => { out('switchyard stopped cleanly'); resolve() }, (err: unknown) => {
        process.stderr.write(`switchyard: shutdown error: ${(err as Error).message}\n`)
        process.exitCode = 1
        resolve()
      })
    }
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
  })
  return 0
}

const STATUS_INTERVAL_MS = 5_000

/** One line of worker activity every few seconds while anything changes, so the terminal shows the platform working. */
function startStatusLine (worker: Worker, out: (line: string) => void): () => void {
  let last = ''
  const timer = setInterval(() => {
    const c = worker.counters
    const line = `processed ${c.processed}, failed ${c.failed} (retrying ${c.retried}, dead ${c.dead}), in flight ${worker.inFlight}`
    if (line === last) return
    last = line
    out(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
  }, STATUS_INTERVAL_MS)
  timer.unref()
  return () => clearInterval(timer)
}
