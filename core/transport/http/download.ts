import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { withCallDeadline } from './call.ts'

// Answers of the contract's download RPCs as HTTP files, shared by every HTTP front end
// of the contract (the gateway and the web console's API), so both send the same headers.

/** a unary download's answer (exports): the whole file in one message */
export interface FileAnswer { contentType: string, filename?: string, body: string, count?: number }

/** one chunk of a streamed download (GetJobArtifact): metadata on the first, base64 data on each */
export interface FileChunk { contentType?: string, filename?: string, size?: number, sha256?: string, dataBase64: string }

/** Only a plain file name goes into the header: no quotes, paths or control characters. */
export function attachmentName (filename: string): string {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128)
  return safe === '' ? 'export' : safe
}

export async function sendFileAnswer (reply: FastifyReply, file: FileAnswer): Promise<unknown> {
  if (file.filename !== undefined && file.filename !== '') reply.header('content-disposition', `attachment; filename="${attachmentName(file.filename)}"`)
  // the answer's count, which the file itself does not carry (read by core/transport/http-client.ts)
  if (typeof file.count === 'number') reply.header('x-switchyard-count', String(file.count))
  return await reply.type(file.contentType).send(file.body)
}

/**
 * Sends a streamed download as one HTTP body: the first chunk's metadata becomes the
 * headers, every chunk's base64 data the body. Waits (up to timeoutMs) for the stream to
 * be ready first, so a refusal still comes before the first byte, as a JSON error.
 */
export async function sendFileChunks (reply: FastifyReply, chunks: AsyncIterable<FileChunk> & { ready: Promise<void> }, timeoutMs: number, what: string): Promise<unknown> {
  await withCallDeadline(chunks.ready, timeoutMs, what)
  const iterator = chunks[Symbol.asyncIterator]()
  const first = await iterator.next()
  const head = first.done === true ? null : first.value
  if (head?.filename !== undefined && head.filename !== '') reply.header('content-disposition', `attachment; filename="${attachmentName(head.filename)}"`)
  if (typeof head?.size === 'number') reply.header('content-length', String(head.size))
  if (typeof head?.sha256 === 'string') reply.header('x-switchyard-sha256', head.sha256)
  async function * bytes (): AsyncGenerator<Buffer> {
    if (head !== null && head.dataBase64 !== '') yield Buffer.from(head.dataBase64, 'base64')
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) return
      if (next.value.dataBase64 !== '') yield Buffer.from(next.value.dataBase64, 'base64')
    }
  }
  return await reply.type(head?.contentType ?? 'application/octet-stream').send(Readable.from(bytes()))
}
