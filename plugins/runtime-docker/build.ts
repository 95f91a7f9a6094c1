// Image builds through the engine's /build endpoint: no network for the build steps
// (networkmode none), no pulls (every FROM image must be there already: from-images.ts), the context
// streamed as a tar, the build output passed on as it comes, and a failure reported
// with the last lines of that output.
import { join } from 'node:path'
import type { ImageBuildRequest } from '@switchyard/core'
import type { Engine } from './engine.ts'
import { engineMessage, statusOf } from './engine.ts'
import { RuntimeDockerErrors } from './errors.ts'
import { packBuildContext } from './context.ts'
import { checkBaseImages } from './from-images.ts'
import { TailLines } from './output.ts'

/** One line of the engine's JSON build progress. */
interface BuildEvent {
  stream?: string
  error?: string
  errorDetail?: { message?: string }
  aux?: { ID?: string }
}

/** Bytes of one progress line we hold before giving up on finding its end (a bound on memory). */
const MAX_LINE_CHARS = 1 << 20

export async function buildImage (engine: Engine, request: ImageBuildRequest, maxTimeoutMs: number): Promise<{ imageId: string }> {
  const timeoutMs = Math.min(request.timeoutMs, maxTimeoutMs)
  const context = await packBuildContext(request.contextDir, request.dockerfile)
  await checkBaseImages(join(context.dir, context.dockerfile), async ref => await imagePresent(engine, ref)).catch((err: unknown) => { context.stream.resume(); throw err })
  const network = await networkOff(engine).catch((err: unknown) => { context.stream.resume(); throw err })
  const deadline = AbortSignal.timeout(timeoutMs)
  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  deadline.addEventListener('abort', stop, { once: true })
  request.signal.addEventListener('abort', stop, { once: true })
  if (request.signal.aborted) stop()
  const tail = new TailLines()
  let failure: string | null = null
  try {
    context.stream.on('error', (err: Error) => { failure ??= `packing the build context failed: ${err.message}`; stop() })
    const progress = await engine.docker.buildImage(context.stream as unknown as NodeJS.ReadableStream, {
      t: request.tag,
      dockerfile: context.dockerfile,
      labels: request.labels,
      ...network,
      pull: false,
      rm: true,
      forcerm: true,
      abortSignal: controller.signal
    } as Parameters<typeof engine.docker.buildImage>[1]) as NodeJS.ReadableStream
    let pending = ''
    const onLine = (line: string): void => {
      if (line.trim() === '') return
      let event: BuildEvent
      try {
        event = JSON.parse(line) as BuildEvent
      } catch {
        tail.push(`${line}\n`)
        return
      }
      if (typeof event.stream === 'string') {
        tail.push(event.stream)
        request.onOutput?.(event.stream)
      }
      if (event.error !== undefined || event.errorDetail !== undefined) {
        failure ??= event.errorDetail?.message ?? event.error ?? 'unknown build error'
      }
    }
    for await (const chunk of progress as AsyncIterable<Buffer | string>) {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() as string
      for (const line of lines) onLine(line)
      if (pending.length > MAX_LINE_CHARS) { onLine(pending); pending = '' }
    }
    onLine(pending)
  } catch (err) {
    if (!controller.signal.aborted) {
      if (engine.isUnreachable(err)) throw engine.unavailable('the image build', err)
      failure ??= engineMessage(err)
    }
  } finally {
    deadline.removeEventListener('abort', stop)
    request.signal.removeEventListener('abort', stop)
    context.stream.resume()
  }
  if (request.signal.aborted) throw request.signal.reason ?? new Error('the image build was aborted')
  if (deadline.aborted) throw RuntimeDockerErrors.buildFailed(`building ${request.tag} did not finish within ${timeoutMs} ms${lastLines(tail)}`, { details: { tag: request.tag, timedOut: true } })
  if (failure !== null) throw RuntimeDockerErrors.buildFailed(`building ${request.tag} failed: ${failure}${lastLines(tail)}`, { details: { tag: request.tag } })
  const imageId = await engine.call('image inspect', async abortSignal => {
    try {
      return ((await engine.docker.getImage(request.tag).inspect({ abortSignal } as object)) as { Id: string }).Id
    } catch (err) {
      if (engine.isUnreachable(err)) throw err
      throw RuntimeDockerErrors.buildFailed(`the build of ${request.tag} ended without an image: ${engineMessage(err)}${lastLines(tail)}`, { cause: err })
    }
  }, undefined, { idempotent: true })
  return { imageId }
}

/**
 * The build parameters that keep RUN steps off the network. Docker takes
 * networkmode=none. podman's compat /build reads `networkmode` as buildah's network
 * policy (where "none" means the default) and runs RUN steps in the host's network
 * namespace unless `nsoptions` asks for a private one: it needs both a private
 * namespace and the disabled policy, which leaves only the loopback interface.
 */
async function networkOff (engine: Engine): Promise<Record<string, string>> {
  if (await engine.flavour() === 'docker') return { networkmode: 'none' }
  return { networkmode: 'NetworkDisabled', nsoptions: JSON.stringify([{ Name: 'network', Host: false, Path: '' }]) }
}

function lastLines (tail: TailLines): string {
  const text = tail.lines()
  return text === '' ? '' : `\n--- last lines of the build output ---\n${text}`
}

/** true when the engine has the image (by reference); a build never pulls one */
async function imagePresent (engine: Engine, ref: string): Promise<boolean> {
  try {
    await engine.call('an image inspect', abortSignal => engine.docker.getImage(ref).inspect({ abortSignal } as object), undefined, { idempotent: true })
    return true
  } catch (err) {
    if (statusOf(err) === 404) return false
    throw err
  }
}
