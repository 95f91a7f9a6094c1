// Job commands: definitions (list, get, apply -f, delete), runs (run, runs, status,
// cancel), their events (logs) and artifacts (artifact). `apply` reads a YAML or JSON
// file holding one definition, the UpsertJob body.
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import type { AdminEventT, JobRunViewT, JobViewT } from '../contract/messages.ts'
import { isTransient, reconnectDelayMs } from './events.ts'
import type { RequestOf } from '../contract/rpcs.ts'
import { emit, fields, table, wantsJson } from './format.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { bool, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'

const MAX_DEFINITION_FILE_BYTES = 256 * 1024

function formatJob (job: JobViewT): string {
  const source = job.source === 'git_tag' ? `${job.repo ?? ''} @ ${job.tag ?? ''}` : job.source === 'tarball_url' ? job.tarballUrl : job.tarballPath
  return fields([
    ['name', job.name], ['description', job.description], ['source', `${job.source} ${source ?? ''}`], ['sha256', job.tarballSha256],
    ['context', `${job.path} (${job.dockerfile})`], ['command', job.command.join(' ')], ['env', job.env.map(entry => entry.split('=')[0]).join(', ')],
    ['queue', job.queue], ['retries', job.retries], ['timeout', `${job.timeoutSeconds}s`],
    ['resources', `${job.resources.memoryBytes} bytes, ${job.resources.cpus} cpus, ${job.resources.pids} pids`], ['network', job.network], ['updated', job.updatedAt]
  ])
}

function formatRuns (runs: JobRunViewT[]): string {
  return table(['RUN', 'JOB', 'STATE', 'ATTEMPT', 'TRIGGER', 'QUEUED', 'EXIT'], runs.map(run => [run.id, run.job, run.state, `${run.attempt}/${run.maxAttempts}`, run.trigger, run.queuedAt, run.exitCode === undefined ? '' : String(run.exitCode)]))
}

function formatRun (run: JobRunViewT): string {
  return fields([
    ['run', run.id], ['job', run.job], ['state', run.state], ['task', run.taskId], ['attempt', `${run.attempt}/${run.maxAttempts}`], ['trigger', run.trigger],
    ['queued', run.queuedAt], ['started', run.startedAt], ['finished', run.finishedAt], ['exit code', run.exitCode], ['revision', run.revision],
    ['source sha256', run.sourceSha256], ['image', run.imageId], ['error', run.error], ['cancel requested', run.cancelRequestedAt],
    ['artifacts', run.artifacts.map(artifact => `${artifact.name} (${artifact.size} bytes)`).join(', ')]
  ])
}

export async function runJobsList (input: CommandInput): Promise<number> {
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  return await withAdmin(input, async admin => {
    const result = await admin.call('ListJobs', limit === undefined ? {} : { limit })
    emit(input, result, () => table(['NAME', 'SOURCE', 'QUEUE', 'RETRIES', 'TIMEOUT', 'UPDATED'], result.jobs.map(job => [job.name, job.source, job.queue, String(job.retries), `${job.timeoutSeconds}s`, job.updatedAt])))
  })
}

export async function runJobsGet (input: CommandInput): Promise<number> {
  return await withAdmin(input, async admin => {
    const result = await admin.call('GetJob', { name: input.positionals[0] as string })
    emit(input, result, () => formatJob(result.job))
  })
}

/** the UpsertJob body a definition file holds */
export async function readDefinitionFile (file: string): Promise<RequestOf<'UpsertJob'>> {
  const text = await readFile(file, 'utf8').catch((err: Error) => { throw new UsageError(`-f ${file}: ${err.message}`) })
  if (Buffer.byteLength(text) > MAX_DEFINITION_FILE_BYTES) throw new UsageError(`-f ${file}: larger than ${MAX_DEFINITION_FILE_BYTES} bytes`)
  let parsed: unknown
  try {
    parsed = /\.ya?ml$/i.test(file) ? (await import('yaml')).parse(text) : JSON.parse(text)
  } catch (err) {
    throw new UsageError(`-f ${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`-f ${file}: must hold one job definition (a mapping with name, source, ...)`)
  const body = parsed as Record<string, unknown>
  return { command: [], env: [], ...body } as unknown as RequestOf<'UpsertJob'>
}

export async function runJobsApply (input: CommandInput): Promise<number> {
  const file = str(input.values, 'file')
  if (file === undefined) throw new UsageError('-f <file> names the definition to apply (YAML or JSON)')
  const request = await readDefinitionFile(file)
  return await withAdmin(input, async admin => {
    const result = await admin.call('UpsertJob', request)
    emit(input, result, () => `${result.created ? 'created' : 'updated'} job ${result.job.name}`)
  })
}

export async function runJobsDelete (input: CommandInput): Promise<number> {
  return await withAdmin(input, async admin => {
    const result = await admin.call('DeleteJob', { name: input.positionals[0] as string })
    emit(input, result, () => result.deleted ? `deleted job ${result.name} (its runs are kept)` : `job ${result.name} did not exist; nothing changed`)
  })
}

export async function runJobsRun (input: CommandInput): Promise<number> {
  return await withAdmin(input, async admin => {
    const result = await admin.call('RunJob', { name: input.positionals[0] as string })
    emit(input, result, () => `queued run ${result.run.id} of ${result.run.job} (task ${result.taskId})`)
  })
}

export async function runJobsRuns (input: CommandInput): Promise<number> {
  const job = str(input.values, 'job')
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  return await withAdmin(input, async admin => {
    const result = await admin.call('ListJobRuns', { ...(job === undefined ? {} : { job }), ...(limit === undefined ? {} : { limit }) })
    emit(input, result, () => formatRuns(result.runs))
  })
}

export async function runJobsStatus (input: CommandInput): Promise<number> {
  return await withAdmin(input, async admin => {
    const result = await admin.call('GetJobRun', { runId: input.positionals[0] as string })
    emit(input, result, () => formatRun(result.run))
  })
}

export async function runJobsCancel (input: CommandInput): Promise<number> {
  return await withAdmin(input, async admin => {
    const result = await admin.call('CancelJobRun', { runId: input.positionals[0] as string })
    emit(input, result, () => result.outcome === 'canceled' ? `canceled run ${result.run.id} before it started` : result.outcome === 'cancel_requested' ? `asked run ${result.run.id} to stop; its container is stopped by the runner` : `run ${result.run.id} was already canceled`)
  })
}

/**
 * Job events as text: the container's output (job.output's `text`) as it is, since a
 * chunk may end mid-line, and every other event on a line of its own.
 */
function jobEventPrinter (write: (text: string) => void): { print: (event: AdminEventT) => void, end: () => void } {
  let atLineStart = true
  return {
    print (event) {
      const data = event.data as { text?: unknown, state?: unknown, runId?: unknown } | null
      if (event.type === 'job.output' && typeof data?.text === 'string') {
        if (data.text === '') return
        write(data.text)
        atLineStart = data.text.endsWith('\n')
        return
      }
      write(`${atLineStart ? '' : '\n'}${event.time} ${event.type} ${String(data?.runId ?? '')}${data?.state === undefined ? '' : ` ${String(data.state)}`}\n`)
      atLineStart = true
    },
    end () {
      if (!atLineStart) write('\n')
      atLineStart = true
    }
  }
}

export async function runJobsLogs (input: CommandInput): Promise<number> {
  const job = input.positionals[0] as string
  const runId = str(input.values, 'run')
  const limit = optionalInteger(input.values, 'limit', 1, 1000) ?? 1000
  if (!bool(input.values, 'follow')) {
    return await withAdmin(input, async admin => {
      const result = await admin.call('ListJobEvents', { name: job, ...(runId === undefined ? {} : { runId }), limit })
      if (wantsJson(input)) { emit(input, result, () => ''); return }
      const printer = jobEventPrinter(text => { input.io.stdout.write(text) })
      for (const event of result.events) printer.print(event)
      printer.end()
    })
  }
  // --follow: the stream is opened first (positioned at now), then the history is
  // printed, then live events of the job (or run), resuming after a dropped connection;
  // with --run it ends at the run's job.finished.
  const stop = new AbortController()
  const onSignal = (): void => { stop.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const ours = (event: AdminEventT): boolean => {
    const data = event.data as { job?: unknown, runId?: unknown } | null
    return event.type.startsWith('job.') && data?.job === job && (runId === undefined || data?.runId === runId)
  }
  const printer = jobEventPrinter(text => { input.io.stdout.write(text) })
  const print = (event: AdminEventT): void => {
    if (wantsJson(input)) emit(input, event, () => '')
    else printer.print(event)
  }
  const finished = (event: AdminEventT): boolean => runId !== undefined && event.type === 'job.finished'
  try {
    return await withAdmin(input, async admin => {
      const seen = new Set<string>()
      let lastId: string | undefined
      let failures = 0
      let first = true
      while (!stop.signal.aborted) {
        const connection = new AbortController()
        const onStop = (): void => { connection.abort() }
        stop.signal.addEventListener('abort', onStop, { once: true })
        const events = admin.events(lastId === undefined ? {} : { afterId: lastId }, { signal: connection.signal })
        try {
          const pending = events.next()
          // awaited below unless the history already ends it; then its abort must not go unhandled
          pending.catch(() => {})
          if (first) {
            first = false
            const history = await admin.call('ListJobEvents', { name: job, ...(runId === undefined ? {} : { runId }), limit })
            for (const event of history.events) {
              seen.add(event.id)
              print(event)
              if (finished(event)) return 0
            }
          }
          for (let next = await pending; next.done !== true; next = await events.next()) {
            const event = next.value
            lastId = event.id
            failures = 0
            if (!ours(event) || seen.has(event.id)) continue
            print(event)
            if (finished(event)) return 0
          }
        } catch (err) {
          if (stop.signal.aborted) return 0
          if (!isTransient(err)) throw err
        } finally {
          stop.signal.removeEventListener('abort', onStop)
          connection.abort()
          await events.return(undefined).catch(() => {})
        }
        if (stop.signal.aborted) return 0
        failures++
        await new Promise(resolve => setTimeout(resolve, reconnectDelayMs(failures)))
      }
      return 0
    })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    printer.end()
  }
}

export async function runJobsArtifact (input: CommandInput): Promise<number> {
  const name = input.positionals[0] as string
  const runId = str(input.values, 'run')
  const artifact = str(input.values, 'artifact')
  const output = str(input.values, 'output')
  const request = { name, ...(runId === undefined ? {} : { runId }), ...(artifact === undefined ? {} : { artifact }) }
  return await withAdmin(input, async admin => {
    const meta = await admin.call('GetJobArtifactMeta', request)
    if (output === undefined) {
      emit(input, meta, () => fields([['job', meta.job], ['run', meta.runId], ['artifact', meta.artifact.name], ['size', meta.artifact.size], ['sha256', meta.artifact.sha256], ['type', meta.artifact.contentType], ['stored', meta.artifact.createdAt]]))
      return
    }
    const sink = output === '-' ? process.stdout : createWriteStream(output, { flags: 'wx' })
    let bytes = 0
    for await (const piece of admin.artifact(request)) {
      bytes += piece.length
      if (!sink.write(piece)) await once(sink, 'drain')
    }
    if (sink !== process.stdout) {
      sink.end()
      await once(sink, 'finish')
      emit(input, { ...meta, written: bytes, file: output }, () => `wrote ${bytes} bytes of ${meta.artifact.name} to ${output}`)
    }
  })
}
