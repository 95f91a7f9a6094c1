// The log's two forms: JSON lines (pino's) for collectors, readable lines for people;
// auto picks by whether the output is a terminal.
import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { effectiveLogFormat, formatRecord, loggerOptions } from '../../core/log/index.ts'

function capture (isTTY: boolean): Writable & { isTTY: boolean, text: () => string } {
  let text = ''
  const out = new Writable({ write (chunk, _enc, done) { text += String(chunk); done() } }) as Writable & { isTTY: boolean, text: () => string }
  out.isTTY = isTTY
  out.text = () => text
  return out
}

t.test('auto is pretty on a terminal and JSON elsewhere; an explicit format wins', async (t) => {
  t.equal(effectiveLogFormat('auto', capture(true)), 'pretty')
  t.equal(effectiveLogFormat('auto', capture(false)), 'json')
  t.equal(effectiveLogFormat('json', capture(true)), 'json')
  t.equal(effectiveLogFormat('pretty', capture(false)), 'pretty')
})

t.test('a real pino logger (Fastify\'s) writes readable lines or JSON lines', async (t) => {
  const pretty = capture(true)
  const app = Fastify({ logger: loggerOptions({ level: 'info', format: 'auto' }, pretty, { NO_COLOR: '1' }) })
  app.log.info({ action: 'queue.pause', target: 'default', requestId: 'r1' }, 'admin queue.pause default by CN=ops: ok')
  app.log.debug('not shown at info')
  app.log.error({ err: Object.assign(new Error('disk full'), { code: 'ENOSPC' }) }, 'writing failed')
  await app.close()
  const lines = pretty.text().split('\n')
  t.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} INFO {2}admin queue\.pause default by CN=ops: ok {2}requestId=r1$/, 'fields the message says are not repeated')
  t.match(lines[1], /^\d\d:\d\d:\d\d\.\d{3} ERROR writing failed — ENOSPC: disk full$/)
  t.match(lines[2], /^ {4}at /, 'an error\'s stack frames follow')
  t.notMatch(pretty.text(), /not shown|\u001b\[/, 'level honoured; no colours with NO_COLOR')

  const json = capture(false)
  const jsonApp = Fastify({ logger: loggerOptions({ level: 'info', format: 'auto' }, json, {}) })
  jsonApp.log.info({ target: 'default' }, 'hello')
  await jsonApp.close()
  const record = JSON.parse(json.text().split('\n')[0] ?? '') as Record<string, unknown>
  t.match(record, { level: 30, msg: 'hello', target: 'default' })
})

t.test('formatRecord keeps unknown levels and odd values readable', async (t) => {
  t.equal(formatRecord({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 0, 5), msg: 'slow', ms: 1200, note: 'two words' }, { color: false }), '12:00:00.005 WARN  slow  ms=1200 note="two words"')
  t.match(formatRecord({ level: 30, msg: 'colour', time: 0 }, { color: true }), '\u001b[32mINFO \u001b[0m')
})
