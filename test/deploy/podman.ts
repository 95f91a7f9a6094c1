// The image tests' container helpers: the locally built Node.js base image, and image
// builds through dockerode with a build context that honours .dockerignore as Docker
// does. The podman API service itself lives in test/support/podman.ts.
import { execFile } from 'node:child_process'
import { lstat, readdir, readFile } from 'node:fs/promises'
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

export interface BuildResult {
  imageId: string
  log: string
}

/** Builds `tag` from the repository's Dockerfile through the API; build steps use the host's network (the npm registry). */
export async function buildImage (docker: Docker, tag: string, buildargs: Record<string, string>): Promise<BuildResult> {
  const files = await contextFiles(REPO_ROOT)
  for (const file of files) {
    if ((await lstat(join(REPO_ROOT, file))).isSymbolicLink()) throw new Error(`the build context holds a symbolic link: ${file}`)
  }
  const context = tar.create({ cwd: REPO_ROOT, portable: true, gzip: false }, files)
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, buildargs, networkmode: 'host', rm: true })
  let log = ''
  const output = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, res: Array<Record<string, unknown>>) => { err === null ? resolve(res) : reject(err) }, (event: Record<string, unknown>) => {
      if (typeof event.stream === 'string' && log.length < 2_000_000) log += event.stream
    })
  })
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
