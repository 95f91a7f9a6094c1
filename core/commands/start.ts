import { dirname } from 'node:path'
import type { Switchyard } from '../app.ts'
import { loadConfig } from '../config/load.ts'
import { adminListenSettings, assertListenAddressesFree, consoleListenSetting } from '../listen-check.ts'
import type { Worker } from '../worker/index.ts'
import { configFileOf } from './connection-flags.ts'
import { StartupPhases } from '../startup-phases.ts'

export interface StartMode {
  /** 'config': as the config says (on for the embedded default); 'off': never */
  demo: 'config' | 'off'
  /** serve the admin contract (gRPC + HTTPS gateway) from this process */
  listen: boolean
}

/**
 * Runs until SIGINT/SIGTERM, then shuts down gracefully and returns 0; a second
 * signal exits at once (130). The signal handlers are installed before anything
 * starts: a signal during start-up lets the step under way finish (opening the
 * backend, binding a listener), then closes whatever started, so start-up is never
 * cut off half-way with a data directory or a listener left behind.
 */
export async function runStart (values: Record<string, string | boolean | undefined>, mode: StartMode): Promise<number> {
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  const stopSignal = watchStopSignals(out)
  const started = Date.now()
  const phases = new StartupPhases()
  phases.mark('node and cli')
  const loaded = await loadConfig({ file: configFileOf(values), env: process.env })
  phases.mark('config')
  // A taken port fails here, in one line and at once, before the backend opens.
  if (mode.listen && loaded.config.admin.grpcTarget === null) {
    const consoleSetting = consoleListenSetting(loaded.config)
    await assertListenAddressesFree([...adminListenSettings(loaded.config.admin, { grpc: true }), ...(consoleSetting === null ? [] : [consoleSetting])])
  }
  phases.mark('port check')
  // Loaded only now, so a wrong config or a taken port is reported before the platform's modules load.
  const { createSwitchyard } = await import('../app.ts')
  phases.mark('modules')
  const sy = await createSwitchyard({ loaded, demo: mode.demo === 'config' ? undefined : false, listen: mode.listen, phases })
  if (stopSignal.received === null) await sy.start()
  if (stopSignal.received !== null) return await stop(sy, out)
  stopSignal.started()
  sy.app.log.info({ phasesMs: phases.durations(), sinceProcessStartMs: phases.totalMs() }, 'start-up phases')
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
  for (const frontend of sy.frontends) for (const line of frontend.banner()) out(`  ${line}`)
  if (sy.demoEnabled) out('  demo:     on — demo handlers noop/sleep/fail and a trickle of demo tasks (payload "demo": true); set demo.enabled: false to turn off')
  out('Press Ctrl-C to stop.')
  // The status line is for a person watching; a log collector gets the log records only.
  const stopStatus = sy.worker === null || process.stdout.isTTY !== true ? () => {} : startStatusLine(sy.worker, out)
  await stopSignal.promise
  stopStatus()
  return await stop(sy, out)
}

interface StopSignal {
  /** the first SIGINT/SIGTERM received, or null */
  readonly received: string | null
  /** resolves with the first signal */
  readonly promise: Promise<string>
  /** start-up is over: later signals are no longer "during start-up" */
  started (): void
}

/** SIGINT/SIGTERM from now on: the first asks for a graceful stop, a second exits at once. */
function watchStopSignals (out: (line: string) => void): StopSignal {
  let received: string | null = null
  let startingUp = true
  let resolve!: (signal: string) => void
  const promise = new Promise<string>((r) => { resolve = r })
  const onSignal = (signal: string): void => {
    if (received !== null) {
      process.stderr.write(`switchyard: ${signal} again, exiting without waiting\n`)
      process.exit(130)
    }
    received = signal
    out(startingUp ? `\n${signal} received during start-up: stopping once the step under way finishes…` : `\n${signal} received: stopping…`)
    resolve(signal)
  }
  process.on('SIGINT', () => onSignal('SIGINT'))
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  return {
    get received () { return received },
    promise,
    started () { startingUp = false }
  }
}

async function stop (sy: Switchyard, out: (line: string) => void): Promise<number> {
  out(`finishing in-flight tasks (up to ${sy.config.worker.shutdownGraceMs} ms)…`)
  try {
    await sy.close()
  } catch (err) {
    process.stderr.write(`switchyard: shutdown error: ${(err as Error).message}\n`)
    return 1
  }
  out('switchyard stopped cleanly')
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
