// The image tests' container helpers: the locally built Node.js base image, and image
// builds through dockerode with a build context that honours .dockerignore as Docker
// does. The podman API service itself lives in test/support/podman.ts.
import { execFile } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import dockerignore from '@balena/dockerignore'
import Docker from 'dockerode'
import * as tar from 'tar'
import { REPO_ROOT } from '../support/podman.ts'

const run = promisify(execFile)

// The engine itself is shared with the job runtime's tests.
export { podmanMissing, startPodmanService, REPO_ROOT, type PodmanService } from '../support/podman.ts'
const SCRIPTS = join(REPO_ROOT, 'scripts', 'container')

/** The Node.js base image built from this machine's node (kept between runs while node and the script are unchanged). */
export async function ensureBaseImage (env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run('bash', [join(SCRIPTS, 'base-image.sh')], { env, timeout: 300_000, maxBuffer: 1 << 20 })
  return stdout.trim().split('\n').at(-1) as string
}

/** Every file of the build context, as `docker build` would send it: .dockerignore applied to repository-relative paths. */
export async function contextFiles (root: string): Promise<string[]> {
  const ignoreText = await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '')
  const keep = dockerignore({ ignorecase: false }).add(ignoreText).createFilter()
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      const rel = relative(root, path)
      // A directory is entered even when ignored: an exception (!dir/file) can bring a file back.
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules' || entry.name === '.git') continue
        await walk(path)
      } else if (keep(rel) || rel === 'Dockerfile' || rel === '.dockerignore') {
        files.push(rel)
      }
    }
  }
  await walk(root)
  return files.sort()
}

/**
 * What `npm run build` left beside the sources (each package's dist/ with its
 * .tsbuildinfo, the console app's dist-app/), as repository-relative paths; empty when
 * nothing is built.
 */
export async function buildOutputFiles (root: string): Promise<string[]> {
  const dirs = ['core/dist', 'plugins/admin-console/dist-app']
  for (const name of await readdir(join(root, 'plugins'))) dirs.push(`plugins/${name}/dist`)
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(join(root, dir), { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      const rel = `${dir}/${entry.name}`
      if (entry.isDirectory()) await walk(rel)
      else if (entry.isFile()) files.push(rel)
    }
  }
  for (const dir of dirs) await walk(dir)
  return files.sort()
}

// The .dockerignore patterns that keep build output out of the context.
const BUILD_OUTPUT_PATTERNS = new Set(['**/dist', '**/*.tsbuildinfo'])

export interface BuildOptions {
  /**
   * Send the host's build output (see buildOutputFiles) with the sources, with a
   * .dockerignore that lets it through: the build stage's `npm run build` then finds
   * the packages compiled (tsc -b checks them against the sources and compiles what is
   * stale) instead of compiling the workspace again inside the container.
   */
  reuseHostBuild?: boolean
  /**
   * Keep every step's result as a layer the next build can reuse (the default, as
   * `docker build`). Without, only the final image is stored: in empty storage, where
   * nothing can be reused, that saves committing the build stage's layers (the
   * dependency install alone is some 500 MB), about a third of a cold build's CPU.
   */
  layers?: boolean
}

export interface BuildResult {
  imageId: string
  log: string
}

/** Builds `tag` from the repository's Dockerfile through the API; build steps use the host's network (the npm registry). */
export async function buildImage (docker: Docker, tag: string, buildargs: Record<string, string>, options: BuildOptions = {}): Promise<BuildResult> {
  let files = await contextFiles(REPO_ROOT)
  for (const file of files) {
    if ((await lstat(join(REPO_ROOT, file))).isSymbolicLink()) throw new Error(`the build context holds a symbolic link: ${file}`)
  }
  let scratch: string | null = null
  if (options.reuseHostBuild === true) {
    // The engine applies the context's .dockerignore again to COPY: the one sent here
    // keeps every pattern except those that exclude build output. The context is an
    // archive file then, with that .dockerignore appended to it.
    scratch = await mkdtemp(join(tmpdir(), 'switchyard-context-'))
    const ignore = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n').filter(line => !BUILD_OUTPUT_PATTERNS.has(line.trim())).join('\n')
    await writeFile(join(scratch, '.dockerignore'), ignore)
    const output = await buildOutputFiles(REPO_ROOT)
    if (output.length === 0) throw new Error('reuseHostBuild: nothing is built in the workspace (npm run build)')
    files = [...files.filter(file => file !== '.dockerignore'), ...output]
  }
  let log = ''
  let output: Array<Record<string, unknown>>
  try {
    let context: NodeJS.ReadableStream
    if (scratch === null) {
      context = tar.create({ cwd: REPO_ROOT, portable: true, gzip: false }, files) as unknown as NodeJS.ReadableStream
    } else {
      const archive = join(scratch, 'context.tar')
      await tar.create({ cwd: REPO_ROOT, portable: true, file: archive }, files)
      await tar.replace({ cwd: scratch, portable: true, file: archive }, ['.dockerignore'])
      context = createReadStream(archive)
    }
    // `layers` is podman's own parameter (Docker's engine ignores it)
    const stream = await docker.buildImage(context, { t: tag, buildargs, networkmode: 'host', rm: true, ...(options.layers === false ? { layers: false } : {}) } as Docker.ImageBuildOptions)
    output = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, res: Array<Record<string, unknown>>) => { err === null ? resolve(res) : reject(err) }, (event: Record<string, unknown>) => {
        if (typeof event.stream === 'string' && log.length < 2_000_000) log += event.stream
      })
    })
  } finally {
    if (scratch !== null) await rm(scratch, { recursive: true, force: true })
  }
  const failure = output.find(event => event.error !== undefined || event.errorDetail !== undefined)
  if (failure !== undefined) throw new Error(`image build failed: ${JSON.stringify(failure.error ?? failure.errorDetail)}\n${log.slice(-5_000)}`)
  const image = await docker.getImage(tag).inspect()
  return { imageId: image.Id, log }
}

/** Output of a command run in a running container, with its exit code (bounded). */
export async function execIn (container: Docker.Container, cmd: string[], env: string[] = [], timeoutMs = 60_000): Promise<{ exitCode: number | null, output: string }> {
  const exec = await container.exec({ Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  let output = ''
  const collect = { write: (chunk: Buffer) => { output += chunk.toString(); return true } } as unknown as NodeJS.WritableStream
  exec.modem.demuxStream(stream, collect, collect)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${cmd.join(' ')} did not finish in ${timeoutMs} ms: ${output}`)) }, timeoutMs)
    stream.on('end', () => { clearTimeout(timer); resolve() })
    stream.on('error', (err: Error) => { clearTimeout(timer); reject(err) })
  })
  const { ExitCode } = await exec.inspect()
  return { exitCode: ExitCode, output }
}

/** stdout and stderr of a container so far (for failure messages and shutdown checks). */
export async function containerLogs (container: Docker.Container): Promise<string> {
  const raw = await container.logs({ stdout: true, stderr: true, follow: false })
  let text = ''
  const collect = { write: (chunk: Buffer) => { text += chunk.toString(); return true } } as unknown as NodeJS.WritableStream
  const { PassThrough } = await import('node:stream')
  const source = new PassThrough()
  container.modem.demuxStream(source, collect, collect)
  source.end(raw)
  await new Promise(resolve => setImmediate(resolve))
  return text
}
