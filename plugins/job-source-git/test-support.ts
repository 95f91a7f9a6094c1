// A real git server for the tests: node's https with a test CA in front of git's own
// `git http-backend` (CGI), serving the bare repositories under one directory, and
// helpers that build those repositories with real git.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { issueCertificate } from '../../core/transport/certs.ts'

const run = promisify(execFile)

/** git for building fixtures: no user or system config, fixed identity and dates */
export const FIXTURE_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.test',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.test',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z'
}

export async function git (cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-c', 'init.defaultBranch=main', ...args], { cwd, env: FIXTURE_ENV })
  return stdout.trim()
}

export interface GitServer {
  /** https://127.0.0.1:<port>/git/ — a repository <name> is at `${base}<name>.git` */
  base: string
  /** CA certificate file git must trust */
  caFile: string
  /** requests to a path under /stall/ never get an answer */
  stalled: string
  close (): Promise<void>
}

/** Serves the bare repositories in `projectRoot` over HTTPS through git http-backend. */
export async function startGitServer (projectRoot: string, certDir: string): Promise<GitServer> {
  const ca = await issueCertificate({ commonName: 'Git Test CA', usage: 'ca' })
  const leaf = await issueCertificate({ issuer: ca, commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  await mkdir(certDir, { recursive: true })
  const caFile = join(certDir, 'git-ca.pem')
  await writeFile(caFile, ca.cert)
  const stalled = new Set<import('node:http').ServerResponse>()
  const server: Server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1')
    if (url.pathname.startsWith('/stall/')) { stalled.add(res); return }
    if (!url.pathname.startsWith('/git/')) { res.writeHead(404).end(); return }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...FIXTURE_ENV,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: url.pathname.slice('/git'.length),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: req.socket.remoteAddress ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? '')
      },
      stdio: ['pipe', 'pipe', 'ignore']
    })
    req.pipe(cgi.stdin)
    let head = Buffer.alloc(0)
    let headersDone = false
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) { res.write(chunk); return }
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      headersDone = true
      let status = 200
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10)
        else res.setHeader(name, value)
      }
      res.writeHead(status)
      res.write(head.subarray(end + 4))
    })
    cgi.stdout.on('end', () => res.end())
    cgi.on('error', () => { if (!res.headersSent) res.writeHead(500); res.end() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  return {
    base: `https://127.0.0.1:${port}/git/`,
    stalled: `https://127.0.0.1:${port}/stall/`,
    caFile,
    close: async () => {
      for (const res of stalled) res.destroy()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** A git wrapper that appends its argv (one line per call) to `logFile`, then runs the real git. */
export async function recordingGit (dir: string): Promise<{ bin: string, logFile: string }> {
  const bin = join(dir, 'git-recorder.sh')
  const logFile = join(dir, 'git-argv.log')
  await writeFile(bin, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${logFile}'\nexec git "$@"\n`)
  await chmod(bin, 0o755)
  return { bin, logFile }
}

export interface FixtureRepo {
  /** commit of the annotated tag v1.0 */
  v1: string
  /** commit of branch main's head (also the tag v2-light, a lightweight tag) */
  head: string
}

/**
 * Builds `<root>/app.git` (bare) with: tag v1.0 (annotated, a Dockerfile and a
 * script), v2-light (lightweight), branch main, and tags for the hostile cases:
 * with-symlink, with-submodule, with-evil-gitmodules, with-hook-and-filter, big (a 64 KiB file), many (30 files).
 */
export async function buildFixtureRepo (root: string, marker: string): Promise<FixtureRepo> {
  const work = join(root, 'work')
  await mkdir(work, { recursive: true })
  await git(work, 'init', '-q')
  await writeFile(join(work, 'Dockerfile'), 'FROM scratch\nCOPY run.sh /run.sh\n')
  await writeFile(join(work, 'run.sh'), '#!/bin/sh\necho hello\n')
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'v1')
  await git(work, 'tag', '-a', '-m', 'release 1.0', 'v1.0')
  const v1 = await git(work, 'rev-parse', 'HEAD')

  // hooks and filters a hostile repository might carry: they must run nowhere
  await mkdir(join(work, 'hooks'))
  await writeFile(join(work, 'hooks', 'post-checkout'), `#!/bin/sh\ntouch '${marker}'\n`)
  await chmod(join(work, 'hooks', 'post-checkout'), 0o755)
  await writeFile(join(work, '.gitattributes'), '* filter=evil\n')
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'hook and filter')
  await git(work, 'tag', 'with-hook-and-filter')

  await git(work, 'checkout', '-q', '-b', 'sub', v1)
  await writeFile(join(work, '.gitmodules'), `[submodule "sub"]\n\tpath = sub\n\turl = file://${root}/app.git\n`)
  await git(work, 'update-index', '--add', '--cacheinfo', `160000,${v1},sub`)
  await git(work, 'add', '.gitmodules')
  await git(work, 'commit', '-q', '-m', 'submodule')
  await git(work, 'tag', 'with-submodule')
  // a .gitmodules that asks for a command on update: git's fsck refuses the whole pack
  await writeFile(join(work, '.gitmodules'), `[submodule "sub"]\n\tpath = sub\n\turl = file://${root}/app.git\n\tupdate = !touch '${marker}'\n`)
  await git(work, 'add', '.gitmodules')
  await git(work, 'commit', '-q', '-m', 'evil submodule')
  await git(work, 'tag', 'with-evil-gitmodules')

  await git(work, 'checkout', '-q', '-b', 'link', v1)
  await symlink('/etc/passwd', join(work, 'passwd'))
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'symlink')
  await git(work, 'tag', 'with-symlink')

  await git(work, 'checkout', '-q', '-b', 'sizes', v1)
  await writeFile(join(work, 'big.bin'), Buffer.alloc(64 * 1024, 7))
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'big')
  await git(work, 'tag', 'big')
  await git(work, 'rm', '-q', 'big.bin')
  await mkdir(join(work, 'many'))
  for (let i = 0; i < 30; i++) await writeFile(join(work, 'many', `f${i}.txt`), `file ${i}\n`)
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'many')
  await git(work, 'tag', 'many')

  await git(work, 'checkout', '-q', 'main')
  await writeFile(join(work, 'later.txt'), 'after v1\n')
  await git(work, 'add', '-A')
  await git(work, 'commit', '-q', '-m', 'later')
  await git(work, 'tag', 'v2-light')
  const head = await git(work, 'rev-parse', 'HEAD')

  await git(root, 'clone', '-q', '--bare', '--', work, join(root, 'app.git'))
  return { v1, head }
}
