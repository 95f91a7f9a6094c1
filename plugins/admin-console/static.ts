import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ConsoleErrors } from './errors.ts'

// The built single-page app (dist-app/, Vite's output): hashed assets cached for a
// year, index.html never cached, and every other path that is not a file answers
// index.html so a deep link (/tasks?state=dead) loads the app, which reads the URL.
// The build writes a brotli (.br) and a gzip (.gz) copy beside each script and
// stylesheet; they are sent to a browser that accepts them, nothing is compressed
// per request.

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

export function createStaticHandler (assetsDir: string) {
  const root = resolve(assetsDir)
  const index = join(root, 'index.html')

  function send (reply: FastifyReply, path: string, size: number, cacheControl: string, encoding?: { name: string, path: string, size: number }): FastifyReply {
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

  return async function serveStatic (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const indexSize = await fileSize(index)
    if (indexSize === null) {
      throw ConsoleErrors.notBuilt(`the console app is not built (no ${index}): run \`npm run build\` in the repository (or \`npm run build -w @switchyard/admin-console\`)`, { details: { assetsDir: root } })
    }
    const pathname = (request.url.split('?')[0] ?? '/').slice(0, MAX_PATH_LENGTH)
    let relative = ''
    try {
      relative = decodeURIComponent(pathname).replace(/^\/+/, '')
    } catch {
      relative = ''
    }
    // Only plain names below the root: no dot-files, no "..", no NUL.
    const safe = relative !== '' && !relative.split('/').some(part => part === '' || part.startsWith('.')) && !relative.includes('\0')
    if (safe) {
      const file = resolve(root, relative)
      if (file.startsWith(root + sep)) {
        const size = await fileSize(file)
        if (size !== null) return send(reply, file, size, HASHED.test(relative) ? IMMUTABLE : 'no-cache', await precompressed(request, file))
      }
      // A missing hashed asset is a 404, not the app (a stale tab asking for an old build).
      if (relative.startsWith('assets/')) return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('not found')
    }
    return send(reply, index, indexSize, 'no-store')
  }
}
