// Start-up time and memory of the `switchyard` bin, as a user meets them, against bare
// `node -e 0` measured in the same run:
//   1. `switchyard --version`                        target ≤ 3× node -e 0
//   2. `switchyard queues` through the gateway of a    target ≤ 6× node -e 0
//      running `switchyard start`
//   3. `switchyard start` on an existing embedded     target ≤ 1.5 s
//      data directory, spawn → ready
//   4. resident memory of that embedded default after target ≤ 200 MB
//      `--minutes` of its demo (10 by default)
// Ready means the admin gateway answers GET /admin/v1/health with 200 over mutual TLS:
// what an operator, a health check or the CLI waits for. Every `switchyard start` runs
// on its own data directory in a temporary directory, on free ports.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { progress, ratio, round } from './lib/report.ts'
import { summarize, type LatencySummary } from './lib/stats.ts'
import { childEnv, freePort, startAndWait, timeNode, treeMemory, type CommandRun, type RunningStart, type TreeMemory } from './lib/startup-process.ts'
import type { BenchResult } from './lib/types.ts'

/** the installed bin, whatever it runs (TypeScript through a loader or built JavaScript) */
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'core', 'bin', 'switchyard.js')

const TARGETS = {
  version_vs_node: 3,
  queues_vs_node: 6,
  restart_ready_ms: 1500,
  rss_after_demo_mb: 200
} as const

const COMMAND_TIMEOUT_MS = 60_000
const START_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 30_000

function positiveNumber (flag: string, raw: string): number {
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${flag}: expected a positive number, got "${raw}"`)
  return value
}

function firstLine (text: string): string {
  return text.trim().split('\n')[0] ?? ''
}

interface Timed { samples: number[], failure: string | null }

/**
 * Runs each command `runs` times after one untimed warm-up (file caches, compile
 * caches), taking turns so a slow patch of the machine falls on every command alike.
 */
async function timeCommands (commands: Record<string, string[]>, runs: number, cwd: string, env: NodeJS.ProcessEnv): Promise<Record<string, Timed>> {
  const timed: Record<string, Timed> = {}
  for (const name of Object.keys(commands)) timed[name] = { samples: [], failure: null }
  const once = async (name: string): Promise<CommandRun> => await timeNode(commands[name]!, { cwd, env, timeoutMs: COMMAND_TIMEOUT_MS })
  for (let pass = 0; pass <= runs; pass++) {
    for (const name of Object.keys(commands)) {
      const entry = timed[name]!
      if (entry.failure !== null) continue
      const run = await once(name)
      if (run.code !== 0) {
        entry.failure = `exit code ${String(run.code)}: ${firstLine(run.stderr) || firstLine(run.stdout)}`
        progress(`  ${name} failed (${entry.failure}); not measured`)
        continue
      }
      if (pass > 0) entry.samples.push(run.ms)
    }
  }
  return timed
}

function summary (timed: Timed | undefined): LatencySummary | { failed: string } | null {
  if (timed === undefined) return null
  if (timed.failure !== null) return { failed: timed.failure }
  return summarize(timed.samples)
}

function median (timed: Timed | undefined): number | null {
  if (timed === undefined || timed.failure !== null || timed.samples.length === 0) return null
  return summarize(timed.samples).p50
}

/** per phase name, the median over the runs that reported it, in the order of the first run */
function medianPhases (runs: Array<Record<string, number>>): Record<string, number> {
  const names = [...new Set(runs.flatMap(run => Object.keys(run)))]
  return Object.fromEntries(names.map(name => [name, summarize(runs.flatMap(run => run[name] === undefined ? [] : [run[name]!])).p50]))
}

function verdict (value: number | null, target: number): string {
  if (value === null) return 'not measured'
  return value <= target ? 'within target' : 'OVER target'
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('startup', args, {
    runs: { type: 'string' },
    restarts: { type: 'string' },
    minutes: { type: 'string' },
    'sample-seconds': { type: 'string' }
  })
  const smoke = flags.smoke === true
  const runs = flags.runs !== undefined ? positiveInteger('runs', flags.runs) : smoke ? 1 : 10
  const restarts = flags.restarts !== undefined ? positiveInteger('restarts', flags.restarts) : smoke ? 1 : 5
  const minutes = flags.minutes !== undefined ? positiveNumber('minutes', flags.minutes) : smoke ? 0.1 : 10
  const sampleSeconds = flags['sample-seconds'] !== undefined ? positiveNumber('sample-seconds', flags['sample-seconds']) : smoke ? 2 : 30

  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-startup-'))
  const dataDir = join(dir, 'data')
  const httpPort = await freePort()
  const grpcPort = await freePort()
  const consolePort = await freePort()
  const env = childEnv({
    SWITCHYARD_DATA_DIR: dataDir,
    WORKER_ADMIN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    WORKER_ADMIN_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    SWITCHYARD_CONSOLE_ADDR: `127.0.0.1:${consolePort}`
  })
  const gateway = { url: `https://127.0.0.1:${httpPort}`, certDir: join(dataDir, 'certs') }
  const startOptions = { cwd: dir, env, gateway, timeoutMs: START_TIMEOUT_MS }
  const results: Record<string, unknown> = { smoke, bin: BIN, node: process.version, runs, restarts, minutes, targets: TARGETS }
  let running: RunningStart | null = null
  try {
    progress(`startup: node -e 0 and switchyard --version, ${runs} runs each (bin ${BIN})`)
    const cold = await timeCommands({ node: ['-e', '0'], version: [BIN, '--version'] }, runs, dir, env)

    progress('startup: first switchyard start on a new data directory (creates it and the development certificates)')
    const first = await startAndWait(BIN, startOptions)
    progress(`  ready in ${Math.round(first.readyMs)} ms, ${first.readyCpuMs ?? '?'} ms CPU (it reported "started in ${first.reportedStartMs ?? '?'} ms")`)
    await first.stop(STOP_TIMEOUT_MS)
    results.first_start = { ready_ms: round(first.readyMs, 1), cpu_ms: first.readyCpuMs, reported_ms: first.reportedStartMs }

    // Every restart but the last is stopped again; the last one stays up for the CLI and memory phases.
    const ready: number[] = []
    const reported: Array<number | null> = []
    const cpu: number[] = []
    const phaseRuns: Array<Record<string, number>> = []
    for (let i = 1; i <= restarts; i++) {
      const start = await startAndWait(BIN, startOptions)
      ready.push(start.readyMs)
      reported.push(start.reportedStartMs)
      if (start.readyCpuMs !== null) cpu.push(start.readyCpuMs)
      if (start.phasesMs !== null) phaseRuns.push(start.phasesMs)
      progress(`startup: switchyard start on the existing data directory ${i}/${restarts}: ready in ${Math.round(start.readyMs)} ms, ${start.readyCpuMs ?? '?'} ms CPU (reported ${start.reportedStartMs ?? '?'} ms)`)
      if (i < restarts) await start.stop(STOP_TIMEOUT_MS)
      else running = start
    }
    const restartReady = summarize(ready)
    results.restart_ready_ms = { ...restartReady, runs: ready.map(ms => round(ms, 1)), reported_ms: reported }
    const restartCpu = cpu.length === 0 ? null : summarize(cpu)
    results.restart_ready_cpu_ms = restartCpu === null ? null : { ...restartCpu, runs: cpu }
    const phaseMedians = medianPhases(phaseRuns)
    results.restart_phases_ms = { median: phaseMedians, runs: phaseRuns }

    progress(`startup: node -e 0 and switchyard queues through the running gateway, ${runs} runs each`)
    const warm = await timeCommands({ node: ['-e', '0'], queues: [BIN, 'queues'] }, runs, dir, env)

    const samples: Array<{ s: number } & TreeMemory> = []
    const began = performance.now()
    const totalMs = minutes * 60_000
    progress(`startup: resident memory of the embedded default over ${minutes} min of its demo, every ${sampleSeconds} s`)
    for (;;) {
      const elapsedMs = performance.now() - began
      const memory = await treeMemory(running!.pid)
      samples.push({ s: Math.round(elapsedMs / 1000), ...memory })
      progress(`  t+${Math.round(elapsedMs / 1000)} s: rss ${memory.rssMb} MB (peak ${memory.peakRssMb} MB, with child processes ${memory.treeRssMb} MB)`)
      if (elapsedMs >= totalMs) break
      await new Promise(resolve => setTimeout(resolve, Math.min(sampleSeconds * 1000, totalMs - elapsedMs)))
    }
    const final = samples.at(-1)!
    await running!.stop(STOP_TIMEOUT_MS)
    running = null

    const nodeMs = median({ samples: [...cold.node!.samples, ...warm.node!.samples], failure: null })
    const versionMs = median(cold.version)
    const queuesMs = median(warm.queues)
    results.node_ms = summarize([...cold.node!.samples, ...warm.node!.samples])
    results.version_ms = summary(cold.version)
    results.queues_ms = summary(warm.queues)
    results.memory = { after_minutes: minutes, rss_mb: final.rssMb, peak_rss_mb: final.peakRssMb, tree_rss_mb: final.treeRssMb, samples }

    const ratios = {
      version_vs_node: ratio(versionMs, nodeMs),
      queues_vs_node: ratio(queuesMs, nodeMs)
    }
    progress('startup: summary (measured | target)')
    progress(`  node -e 0                           ${nodeMs ?? '?'} ms median`)
    progress(`  switchyard --version                ${versionMs ?? '?'} ms = ${ratios.version_vs_node ?? '?'}× node | ≤ ${TARGETS.version_vs_node}× — ${verdict(ratios.version_vs_node, TARGETS.version_vs_node)}`)
    progress(`  switchyard queues (via gateway)     ${queuesMs ?? '?'} ms = ${ratios.queues_vs_node ?? '?'}× node | ≤ ${TARGETS.queues_vs_node}× — ${verdict(ratios.queues_vs_node, TARGETS.queues_vs_node)}`)
    progress(`  start on existing data dir → ready  ${restartReady.p50} ms median (${restartCpu?.p50 ?? '?'} ms CPU) | ≤ ${TARGETS.restart_ready_ms} ms — ${verdict(restartReady.p50, TARGETS.restart_ready_ms)}`)
    progress(`    its phases (median ms): ${Object.entries(phaseMedians).map(([name, ms]) => `${name} ${ms}`).join(', ') || 'not reported'}`)
    progress(`  rss after ${minutes} min of the demo      ${final.rssMb} MB (peak ${final.peakRssMb} MB) | ≤ ${TARGETS.rss_after_demo_mb} MB — ${verdict(final.rssMb, TARGETS.rss_after_demo_mb)}`)
    return { results, ratios }
  } finally {
    if (running !== null) await running.stop(STOP_TIMEOUT_MS).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}
