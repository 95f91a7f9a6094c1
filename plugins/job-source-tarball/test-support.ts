// Test helpers: a loopback HTTPS server with a test CA, tar archives built with
// node-tar (legitimate ones through its packer, hostile ones through its Header
// encoder, which writes whatever path and type it is given), and sandboxes whose
// whole tree can be listed to prove nothing landed outside the run's directory.
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createHash } from 'node:crypto'
import { Header, create } from 'tar'
import type { Test } from 'tap'
import { issueCertificate, type KeyPairPem } from '../../core/transport/certs.ts'
import { HostAllowlist } from './url-rules.ts'
import { TarballJobSource, type TarballSourceOptions } from './source.ts'

export interface TestCa { ca: KeyPairPem, server: KeyPairPem }

/** a CA and a server certificate for localhost, 127.0.0.1 and ::1 */
export async function testCertificates (): Promise<TestCa> {
  const ca = await issueCertificate({ commonName: 'tarball test CA', usage: 'ca' })
  const server = await issueCertificate({ issuer: ca, commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] })
  return { ca, server }
}

export type Route = (req: IncomingMessage, res: ServerResponse, server: TarballServer) => void

export interface TarballServer {
  port: number
  /** https://localhost:<port><path> */
  url (path: string, host?: string): string
  /** paths requested so far */
  requests: string[]
  routes: Map<string, Route>
  close (): Promise<void>
}

export async function startTarballServer (t: Test, certs: TestCa): Promise<TarballServer> {
  const routes = new Map<string, Route>()
  const requests: string[] = []
  const sockets = new Set<import('node:net').Socket>()
  const httpsServer: Server = createServer({ cert: certs.server.cert, key: certs.server.key }, (req, res) => {
    requests.push(req.url ?? '')
    const route = routes.get((req.url ?? '').split('?')[0] ?? '')
    if (route === undefined) { res.writeHead(404).end('no such tarball'); return }
    route(req, res, server)
  })
  httpsServer.on('secureConnection', socket => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
  await new Promise<void>(resolve => httpsServer.listen(0, '127.0.0.1', resolve))
  const port = (httpsServer.address() as AddressInfo).port
  const server: TarballServer = {
    port,
    url: (path, host = 'localhost') => `https://${host}:${port}${path}`,
    requests,
    routes,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => httpsServer.close(() => resolve()))
    }
  }
  t.teardown(() => server.close())
  return server
}

/** serves `body` with a Content-Length */
export function serve (body: Buffer): Route {
  return (_req, res) => { res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body) }
}

export function sha256 (body: Buffer): string {
  return createHash('sha256').update(body).digest('hex')
}

export interface RawEntry {
  path: string
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO'
  body?: string | Buffer
  /** declared size when no body is given (a header that claims a large file) */
  size?: number
  mode?: number
  linkpath?: string
}

/** A tar archive of exactly these headers (gzip-compressed unless `gzip` is false). */
export function rawTar (entries: RawEntry[], gzip = true): Buffer {
  const blocks: Buffer[] = []
  for (const entry of entries) {
    const type = entry.type ?? 'File'
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body)
    const header = new Header({
      path: entry.path,
      type,
      size: type === 'File' ? (entry.size ?? body.length) : 0,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: 1000,
      gid: 1000,
      mtime: new Date('2024-01-01T00:00:00Z'),
      ...(entry.linkpath === undefined ? {} : { linkpath: entry.linkpath })
    })
    const block = Buffer.alloc(512)
    header.encode(block, 0)
    blocks.push(block)
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
    }
  }
  blocks.push(Buffer.alloc(1024))
  const tar = Buffer.concat(blocks)
  return gzip ? gzipSync(tar) : tar
}

/** A legitimate build context packed by node-tar from a real directory. */
export async function packedContext (root: string, gzip = true): Promise<Buffer> {
  const dir = await mkdtemp(join(root, 'ctx-'))
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\n')
  await writeFile(join(dir, 'hello.txt'), 'hello from a tarball\n')
  await mkdir(join(dir, 'bin'))
  await writeFile(join(dir, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o4755 })
  const chunks: Buffer[] = []
  const stream = create({ cwd: dir, gzip, portable: true }, ['.'])
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
  await rm(dir, { recursive: true })
  return Buffer.concat(chunks)
}

export interface Sandbox {
  root: string
  /** the run's directory handed to fetch() */
  destDir: string
  /** a sibling directory hostile archives aim at */
  outside: string
}

/** a fresh sandbox: root/{work/dest, outside}; removed at teardown */
export async function sandbox (t: Test): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'sy-tarball-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const destDir = join(root, 'work', 'dest')
  const outside = join(root, 'outside')
  await mkdir(destDir, { recursive: true })
  await mkdir(outside)
  return { root, destDir, outside }
}

/** every path under `root`, relative, sorted */
export async function tree (root: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      out.push(relative(root, path) + (entry.isDirectory() ? '/' : ''))
      if (entry.isDirectory()) await walk(path)
    }
  }
  await walk(root)
  return out.sort()
}

export function sourceWith (overrides: Partial<TarballSourceOptions> = {}): TarballJobSource {
  return new TarballJobSource({
    allowlist: new HostAllowlist(['localhost']),
    allowPrivateAddresses: true,
    dir: null,
    maxBytes: 64 * 1024 * 1024,
    timeoutMs: 10_000,
    maxRedirects: 5,
    maxEntries: 10_000,
    maxDepth: 32,
    maxUnpackedBytes: 512 * 1024 * 1024,
    maxRatio: 100,
    ...overrides
  })
}
