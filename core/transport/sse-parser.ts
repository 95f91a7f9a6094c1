// Server-Sent Events as the WHATWG spec reads them: lines ending in LF, CR or CRLF;
// `field: value` lines build a message that a blank line dispatches; `data` lines
// join with LF; lines starting with `:` are comments (the gateway's heartbeats).

export interface SseMessage {
  /** the `id:` of this message, if it had one */
  id?: string
  /** the `event:` type, `message` when absent */
  event: string
  data: string
}

/** Splits a byte stream into SSE messages; a message cut off by the end of the stream is dropped, as the spec says. */
export async function * parseSse (chunks: AsyncIterable<Buffer | string>): AsyncGenerator<SseMessage> {
  let buffer = ''
  let data: string[] = []
  let event = ''
  let id: string | undefined
  let hasFields = false
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    for (;;) {
      const end = buffer.search(/\r\n|\r|\n/)
      // A lone CR at the very end may be the first half of CRLF: wait for more.
      if (end < 0 || (end === buffer.length - 1 && buffer[end] === '\r')) break
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1))
      if (line === '') {
        if (hasFields) yield { ...(id === undefined ? {} : { id }), event: event === '' ? 'message' : event, data: data.join('\n') }
        data = []
        event = ''
        id = undefined
        hasFields = false
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') { data.push(value); hasFields = true } else if (field === 'event') { event = value; hasFields = true } else if (field === 'id' && !value.includes('\0')) { id = value; hasFields = true }
    }
  }
}
