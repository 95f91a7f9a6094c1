// Bad input at the command line ends in one clear line naming what is wrong, never a stack trace.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './support.ts'

t.test('bad config fails start-up with the path and a reason', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const cases: Array<[string, string, RegExp]> = [
    ['unknown-key.yaml', 'worker:\n  concurency: 4\n', /worker\.concurency?: unknown key/],
    ['wrong-type.yaml', 'worker:\n  concurrency: many\n', /worker\.concurrency: .*integer/i],
    ['unknown-plugin.yaml', 'plugins:\n  - name: backend-nosuch\n', /PLUGIN_NOT_FOUND.*backend-nosuch/],
    ['bad-duration.yaml', 'worker:\n  leaseTimeout: "7 dayz"\n', /worker\.leaseTimeout: .*7 dayz/]
  ]
  for (const [file, body, expected] of cases) {
    await writeFile(join(dir, file), body)
    const result = await runCli(['start', '--config', file], dir)
    t.equal(result.code, 1, `${file} exits 1`)
    t.match(result.stderr, expected, `${file}: ${result.stderr.trim()}`)
    t.notMatch(result.stderr, /\n\s+at /, `${file}: no stack trace`)
  }
})

t.test('a bad config file: the first line names the problem, the rest follow', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'one.yaml'), 'worker:\n  concurrency: many\n')
  const one = await runCli(['start', '--config', 'one.yaml'], dir)
  t.equal(one.code, 1)
  t.match(one.stderr.trim(), /^switchyard: CONFIG_INVALID: invalid configuration \(.*one\.yaml\): worker\.concurrency: expected integer, got string "many"$/, 'one problem: one line')

  await writeFile(join(dir, 'three.yaml'), 'worker:\n  concurrency: many\n  batchSize: 0\nsurprise: 1\n')
  const three = await runCli(['start', '--config', 'three.yaml'], dir)
  t.equal(three.code, 1)
  const [first, ...rest] = three.stderr.trim().split('\n')
  t.match(first, /^switchyard: CONFIG_INVALID: invalid configuration \(.*three\.yaml\): [\w.]+: .+ \(and 2 more problems\)$/, `first line: ${first ?? ''}`)
  t.equal(rest.length, 2, 'the other two problems follow, one line each')
})

t.test('usage errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const unknown = await runCli(['frobnicate'], dir)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
  const payload = await runCli(['enqueue', 'noop', '--payload', '{oops'], dir)
  t.equal(payload.code, 2, 'a malformed flag value is a usage error')
  t.match(payload.stderr, /--payload: not valid JSON/)
  const delay = await runCli(['enqueue', 'noop', '--delay', '10 sekunden'], dir)
  t.match(delay.stderr, /--delay: "10 sekunden" is not a duration/)
  const state = await runCli(['tasks', '--state', 'exploded'], dir)
  t.match(state.stderr, /--state: "exploded" is not one of/)
})

t.test('config check prints the effective config with secrets masked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'sy.yaml'), 'admin:\n  requireApproval: true\n  approvalToken: hunter2\nworker:\n  concurrency: 3\n')
  const result = await runCli(['config', 'check', 'sy.yaml'], dir)
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /^# valid: .*sy\.yaml$/m, 'says valid')
  t.match(result.stdout, /^ {2}concurrency: 3$/m, 'YAML in the file\'s keys')
  t.notMatch(result.stdout, /hunter2/)
})

t.test('config check: a handler module that does not resolve is one line naming it, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'sy.yaml'), 'handlers: [./handlers/missing.ts]\n')
  const result = await runCli(['config', 'check'], dir, { SWITCHYARD_CONFIG: 'sy.yaml' })
  t.equal(result.code, 1)
  t.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
  t.match(result.stderr, `CONFIG_INVALID: handlers[0]: module ${join(dir, 'handlers/missing.ts')} not found`)
})
