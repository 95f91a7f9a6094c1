// An HTTPS load generator for a worker thread: `connections` keep-alive sockets, each
// sending requests back to back for `seconds`, round-robin over `paths`; reports
// requests/second and latency percentiles. Running in its own thread keeps the client's
// work off the server's event loop.
import https from 'node:https'
import { parentPort, workerData } from 'node:worker_threads'
import { summarize, type LatencySummary } from './stats.ts'

export interface LoadPlan {
  url: string
  paths: string[]
  connections: number
  seconds: number
  ca: string
  cert: string
  key: string
}

export interface LoadResult {
  requests: number
  errors: number
  perSecond: number
  latencyMs: LatencySummary
}

async function run (plan: LoadPlan): Promise<LoadResult> {
  const base = new URL(plan.url)
  const agent = new https.Agent({ keepAlive: true, maxSockets: plan.connections, ca: plan.ca, cert: plan.cert, key: plan.key })
  const samples: number[] = []
  let errors = 0
  const deadline = performance.now() + plan.seconds * 1000
  const one = (path: string): Promise<void> => new Promise((resolve) => {
    const started = performance.now()
    const req = https.request({ host: base.hostname, port: base.port, path, agent, servername: 'localhost', headers: { accept: 'application/json' } }, (res) => {
      res.on('data', () => {})
      res.on('end', () => {
        if (res.statusCode === 200) samples.push(performance.now() - started)
        else errors++
        resolve()
      })
    })
    req.on('error', () => { errors++; resolve() })
    req.end()
  })
  const started = performance.now()
  await Promise.all(Array.from({ length: plan.connections }, async (_, i) => {
    let n = i
    while (performance.now() < deadline) await one(plan.paths[n++ % plan.paths.length] as string)
  }))
  const elapsed = performance.now() - started
  agent.destroy()
  return { requests: samples.length, errors, perSecond: Math.round(samples.length / (elapsed / 1000)), latencyMs: summarize(samples) }
}

if (parentPort !== null) {
  run(workerData as LoadPlan).then((result) => parentPort?.postMessage(result))
}
