// config/embedded.yaml is the embedded default spelled out: `start` with it and
// `start` without a config use the same data directory, the same certificates and the
// same effective config (from whatever directory they run in). SWITCHYARD_CONFIG
// names the file as --config does, for start and for the admin commands; with
// log.format pretty the log is human-readable lines.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EPHEMERAL_LISTENERS, gatewayAddress, runCli, startCli } from './support.ts'

const EMBEDDED = fileURLToPath(new URL('../../config/embedded.yaml', import.meta.url))

/** the banner lines that say where state lives */
function stateLines (stdout: string): { backend: string, certs: string } {
  return {
    backend: /backend: +(.*)$/m.exec(stdout)?.[1] ?? '(none)',
    certs: /certs: +(?:generated|using) development certificates in (\S+)/.exec(stdout)?.[1] ?? '(none)'
  }
}

t.test('start with config/embedded.yaml equals start without a config', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-embedded-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const withoutFile = await runCli(['config', 'check'], dir)
  const withFile = await runCli(['config', 'check', EMBEDDED], dir)
  t.equal(withoutFile.code, 0, withoutFile.stderr)
  t.equal(withFile.code, 0, withFile.stderr)
  t.match(withoutFile.stdout, /^# valid: built-in defaults/)
  t.match(withFile.stdout, `# valid: ${EMBEDDED}`)
  const body = (text: string): string => text.split('\n').filter(line => !line.startsWith('#')).join('\n')
  t.equal(body(withFile.stdout), body(withoutFile.stdout), 'the same effective config')
  t.match(body(withFile.stdout), `dataDir: ${join(dir, '.switchyard')}`)

  const first = startCli(['start'], dir, EPHEMERAL_LISTENERS)
  t.teardown(() => { if (first.child.exitCode === null) first.child.kill('SIGKILL') })
  await first.waitFor('Press Ctrl-C to stop.', 120_000)
  const before = stateLines(first.stdout())
  t.match(first.stdout(), /certs: +generated development certificates/)
  first.child.kill('SIGINT')
  t.equal(await first.exited, 0)

  const second = startCli(['start'], dir, { ...EPHEMERAL_LISTENERS, SWITCHYARD_CONFIG: EMBEDDED, SWITCHYARD_LOG_FORMAT: 'pretty' })
  t.teardown(() => { if (second.child.exitCode === null) second.child.kill('SIGKILL') })
  await second.waitFor('Press Ctrl-C to stop.', 120_000)
  t.match(second.stdout(), `config:   ${EMBEDDED}`, 'SWITCHYARD_CONFIG names the file for start')
  t.same(stateLines(second.stdout()), before, 'the same data directory and certificates')
  t.match(second.stdout(), /certs: +using development certificates/, 'reused, not generated again')
  t.match(second.stdout(), /demo: +on/)
  t.match(second.stderr(), /^\d\d:\d\d:\d\d\.\d{3} INFO {2}admin HTTPS gateway \(mutual TLS\) listening on https:\/\//m, 'log.format pretty: readable lines')
  t.notMatch(second.stderr(), /^\{"level"/m, 'no JSON lines')

  // The admin commands find the same deployment through the same variable: while start
  // holds the embedded database they must be going through its gateway.
  const queues = await runCli(['queues'], dir, { SWITCHYARD_CONFIG: EMBEDDED, WORKER_ADMIN_HTTP_ADDR: gatewayAddress(second.stdout()) })
  t.equal(queues.code, 0, queues.stderr)
  t.match(queues.stdout, /^default +\d+/m)
  second.child.kill('SIGINT')
  t.equal(await second.exited, 0)
})
