import { StringDecoder } from 'node:string_decoder'

// Server-Sent Events as the WHATWG spec reads them: lines ending in LF, CR or CRLF;
// `field: value` lines build a message that a blank line dispatches; `data` lines
// join with LF; lines starting with `:` are comments (the gateway's heartbeats).
//
// A subscriber of a busy stream parses every event it receives: the splitter scans
// each chunk once (each search for a line end starts where the last one ended, and a
// chunk without CR is never searched for one again), where searching the rest of the
// buffer with a regular expression and cutting it at every line cost a multiple.

export interface SseMessage {
  /** the `id:` of this message, if it had one */
  id?: string
  /** the `event:` type, `message` when absent */
  event: string
  data: string
}

/**
 * Splits text, as it arrives, into SSE messages. push() answers the messages the
 * text completed; a line cut off at the end of a chunk waits for the next one (and a
 * message cut off by the end of the stream is never answered, as the spec says).
 */
export class SseSplitter {
  /** the unfinished line carried over from the last chunk */
  private rest = ''
  private data: string[] = []
  private event = ''
  private id: string | undefined
  private hasFields = false

  push (chunk: string): SseMessage[] {
    const text = this.rest === '' ? chunk : this.rest + chunk
    const messages: SseMessage[] = []
    let start = 0
    // the next CR and LF at or after start; -1 once the text holds no more of them
    let cr = text.indexOf('\r')
    let lf = text.indexOf('\n')
    for (;;) {
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start)
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start)
      let end: number
      let next: number
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        end = lf
        next = lf + 1
      } else if (cr !== -1) {
        // a CR at the very end may be the first half of CRLF: wait for more
        if (cr === text.length - 1) break
        end = cr
        next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1
      } else {
        break
      }
      this.line(text.slice(start, end), messages)
      start = next
    }
    this.rest = start === 0 ? text : text.slice(start)
    return messages
  }

  private line (line: string, into: SseMessage[]): void {
    if (line === '') {
      if (this.hasFields) into.push({ ...(this.id === undefined ? {} : { id: this.id }), event: this.event === '' ? 'message' : this.event, data: this.data.join('\n') })
      this.data = []
      this.event = ''
      this.id = undefined
      this.hasFields = false
      return
    }
    if (line.charCodeAt(0) === 58 /* : */) return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1)
    if (field === 'data') {
      this.data.push(value)
      this.hasFields = true
    } else if (field === 'event') {
      this.event = value
      this.hasFields = true
    } else if (field === 'id' && !value.includes('\0')) {
      this.id = value
      this.hasFields = true
    }
  }
}

/**
 * Decodes a byte stream as UTF-8 and splits it into SSE messages, each chunk's at
 * once (a character split across two chunks is decoded whole).
 */
export async function * parseSseChunks (chunks: AsyncIterable<Buffer | string>): AsyncGenerator<SseMessage[]> {
  const decoder = new StringDecoder('utf8')
  const splitter = new SseSplitter()
  for await (const chunk of chunks) {
    const messages = splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk))
    if (messages.length > 0) yield messages
  }
}

/** Splits a byte stream into SSE messages; a message cut off by the end of the stream is dropped, as the spec says. */
export async function * parseSse (chunks: AsyncIterable<Buffer | string>): AsyncGenerator<SseMessage> {
  for await (const messages of parseSseChunks(chunks)) yield * messages
}
