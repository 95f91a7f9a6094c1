import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ConsoleErrors } from './errors.ts'

// The built single-page app (dist-app/, Vite's output): hashed assets cached for a
// year, index.html never cached, and every other path that is not a file answers
// index.html so a deep link (/tasks?state=dead) loads the app, which reads the URL.
// The build writes a brotli (.br) and a gzip (.gz) copy beside each script and
// stylesheet; they are sent to a browser that accepts them, nothing is compressed
// per request.
//
// Hashed assets never change under their name, so they are kept in memory once read
// (all of them are read when the handler is made): a script is then answered in the
// same turn of the event loop that parsed its request. On the embedded backend PGlite
// runs on that event loop too, and each file-system step of a streamed answer (stat,
// open, read, close) waits for the next turn, behind whatever query runs then; a first
// load asks for three assets at once. index.html is small and read again only when
// its size or modification time changed (one stat per load, as before).

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json'
}
const IMMUTABLE = 'public, max-age=31536000, immutable'
/** Vite names built files name-<hash>.ext under assets/ */
const HASHED = /^assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/
const MAX_PATH_LENGTH = 512
/** the precompressed copies the build writes, in order of preference */
const ENCODINGS = [{ name: 'br', suffix: '.br' }, { name: 'gzip', suffix: '.gz' }] as const
const COMPRESSED_TYPES = new Set(['.js', '.mjs', '.css', '.svg', '.json', '.map', '.txt', '.webmanifest'])
/** bounds on the assets kept in memory (a build is well under 1 MB with its compressed copies); past them, assets are streamed */
const MAX_CACHED_BYTES = 32 * 1024 * 1024
const MAX_CACHED_FILES = 512

/** a hashed asset in memory: the file and each precompressed copy the build wrote */
interface CachedAsset { body: Buffer, copies: Map<string, Buffer> }

/** the encodings an Accept-Encoding header allows (q=0 refuses one) */
export function acceptedEncodings (header: string | string[] | undefined): Set<string> {
  const accepted = new Set<string>()
  for (const part of (Array.isArray(header) ? header.join(',') : header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (name === undefined || name === '') continue
    const q = params.map(p => p.trim()).find(p => p.startsWith('q='))
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue
    accepted.add(name)
  }
  return accepted
}

async function fileSize (path: string): Promise<number | null> {
  try {
    const info = await stat(path)
    return info.isFile() ? info.size : null
  } catch {
    return null
  }
}

async function readIfFile (path: string): Promise<Buffer | null> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return null
    throw err
  }
}

export function createStaticHandler (assetsDir: string) {
  const root = resolve(assetsDir)
  const index = join(root, 'index.html')
  const assets = new Map<string, CachedAsset>()
  let cachedBytes = 0
  let indexCopy: { body: Buffer, size: number, mtimeMs: number } | null = null

  /** reads a hashed asset and its precompressed copies into memory (null: no such file) */
  async function loadAsset (relative: string): Promise<CachedAsset | null> {
    const cached = assets.get(relative)
    if (cached !== undefined) return cached
    const file = join(root, relative)
    const body = await readIfFile(file)
    if (body === null) return null
    const copies = new Map<string, Buffer>()
    if (COMPRESSED_TYPES.has(extname(file).toLowerCase())) {
      for (const encoding of ENCODINGS) {
        const copy = await readIfFile(file + encoding.suffix)
        if (copy !== null) copies.set(encoding.name, copy)
      }
    }
    const asset = { body, copies }
    const bytes = body.length + [...copies.values()].reduce((sum, c) => sum + c.length, 0)
    if (assets.size < MAX_CACHED_FILES && cachedBytes + bytes <= MAX_CACHED_BYTES && !assets.has(relative)) {
      assets.set(relative, asset)
      cachedBytes += bytes
    }
    return asset
  }

  // Read the build's assets now, so even the first load is answered from memory. A
  // missing or unreadable directory is not an error here: requests report it.
  void readdir(join(root, 'assets')).then(async names => {
    for (const name of names.slice(0, MAX_CACHED_FILES)) {
      const relative = `assets/${name}`
      if (HASHED.test(relative)) await loadAsset(relative)
    }
  }).catch(() => {})

  function sendBuffer (request: FastifyRequest, reply: FastifyReply, path: string, asset: CachedAsset, cacheControl: string): FastifyReply {
    const ext = extname(path).toLowerCase()
    let body = asset.body
    if (COMPRESSED_TYPES.has(ext)) {
      reply.header('vary', 'accept-encoding')
      const accepted = acceptedEncodings(request.headers['accept-encoding'])
      const encoding = ENCODINGS.find(e => accepted.has(e.name) && asset.copies.has(e.name))
      if (encoding !== undefined) {
        reply.header('content-encoding', encoding.name)
        body = asset.copies.get(encoding.name) as Buffer
      }
    }
    return reply
      .header('cache-control', cacheControl)
      .header('content-length', String(body.length))
      .type(CONTENT_TYPES[ext] ?? 'application/octet-stream')
      .send(body)
  }

  function sendStream (reply: FastifyReply, path: string, size: number, cacheControl: string, encoding?: { name: string, path: string, size: number }): FastifyReply {
    const type = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream'
    if (COMPRESSED_TYPES.has(extname(path).toLowerCase())) reply.header('vary', 'accept-encoding')
    if (encoding !== undefined) reply.header('content-encoding', encoding.name)
    return reply
      .header('cache-control', cacheControl)
      .header('content-length', String(encoding?.size ?? size))
      .type(type)
      .send(createReadStream(encoding?.path ?? path))
  }

  /** the smallest precompressed copy of file the request accepts, if the build wrote one */
  async function precompressed (request: FastifyRequest, file: string): Promise<{ name: string, path: string, size: number } | undefined> {
    if (!COMPRESSED_TYPES.has(extname(file).toLowerCase())) return undefined
    const accepted = acceptedEncodings(request.headers['accept-encoding'])
    for (const encoding of ENCODINGS) {
      if (!accepted.has(encoding.name)) continue
      const size = await fileSize(file + encoding.suffix)
      if (size !== null) return { name: encoding.name, path: file + encoding.suffix, size }
    }
    return undefined
  }

  /** index.html from memory while its size and modification time stay the same; null when it is missing */
  async function indexHtml (): Promise<Buffer | null> {
    let info
    try {
      info = await stat(index)
    } catch {
      return null
    }
    if (!info.isFile()) return null
    if (indexCopy !== null && indexCopy.size === info.size && indexCopy.mtimeMs === info.mtimeMs) return indexCopy.body
    const body = await readIfFile(index)
    if (body === null) return null
    indexCopy = { body, size: info.size, mtimeMs: info.mtimeMs }
    return body
  }

  /** the request's path below the root, or null when it is not a plain name there (no dot-files, no "..", no NUL) */
  function safeRelative (request: FastifyRequest): string | null {
    const pathname = (request.url.split('?')[0] ?? '/').slice(0, MAX_PATH_LENGTH)
    let relative = ''
    try {
      relative = decodeURIComponent(pathname).replace(/^\/+/, '')
    } catch {
      return null
    }
    const safe = relative !== '' && !relative.split('/').some(part => part === '' || part.startsWith('.')) && !relative.includes('\0')
    return safe && resolve(root, relative).startsWith(root + sep) ? relative : null
  }

  return async function serveStatic (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const relative = safeRelative(request)
    // a hashed asset already in memory: answered at once (the build exists, it was read from it)
    const cached = relative === null ? undefined : assets.get(relative)
    if (relative !== null && cached !== undefined) return sendBuffer(request, reply, relative, cached, IMMUTABLE)
    const html = await indexHtml()
    if (html === null) {
      throw ConsoleErrors.notBuilt(`the console app is not built (no ${index}): run \`npm run build\` in the repository (or \`npm run build -w @switchyard/admin-console\`)`, { details: { assetsDir: root } })
    }
    if (relative !== null) {
      if (HASHED.test(relative)) {
        const asset = await loadAsset(relative)
        if (asset !== null) return sendBuffer(request, reply, relative, asset, IMMUTABLE)
      } else {
        const file = resolve(root, relative)
        const size = await fileSize(file)
        if (size !== null) return sendStream(reply, file, size, 'no-cache', await precompressed(request, file))
      }
      // A missing hashed asset is a 404, not the app (a stale tab asking for an old build).
      if (relative.startsWith('assets/')) return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('not found')
    }
    return reply.header('cache-control', 'no-store').header('content-length', String(html.length)).type(CONTENT_TYPES['.html'] as string).send(html)
  }
}
