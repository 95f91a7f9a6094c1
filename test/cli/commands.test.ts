// The command table and the pieces every command shares, without a deployment:
// every RPC of the admin contract has a command, help renders for each, the
// dispatcher turns a bad command line into a usage error (exit 2), durations and
// payloads are read one way, bulk confirmation decides by flags and terminal, and
// the SSE parser reads the stream the gateway writes.
import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { RPC_NAMES } from '../../core/contract/rpcs.ts'
import { CONNECTION_FLAGS } from '../../core/commands/connection-flags.ts'
import { COMMANDS, CONNECTION_FLAGS_HELP, JSON_FLAG, commandNames } from '../../core/commands/table.ts'
import { parseCommandArgs, resolveCommand } from '../../core/commands/dispatch.ts'
import { commandHelp, globalHelp, usageLine } from '../../core/commands/help.ts'
import { decideConfirmation, isYes } from '../../core/commands/confirm.ts'
import { durationMs, timeOrAgo } from '../../core/commands/values.ts'
import { readPayload } from '../../core/commands/payload.ts'
import { purgeRequest, replaySelection } from '../../core/commands/dlq.ts'
import { isTransient, reconnectDelayMs } from '../../core/commands/events.ts'
import type { CommandInput, FlagValues } from '../../core/commands/spec.ts'
import { UsageError } from '../../core/commands/usage.ts'
import { parseSse } from '../../core/transport/sse-parser.ts'
import { SwitchyardError } from '../../core/errors.ts'
import { runCli } from './support.ts'

t.test('every RPC of the admin contract has a CLI command', async t => {
  const covered = new Set(COMMANDS.flatMap(c => c.rpcs))
  t.same(RPC_NAMES.filter(name => !covered.has(name)), [], 'RPCs without a command (add a row to core/commands/table.ts)')
  for (const spec of COMMANDS) {
    if (spec.rpcs.length > 0) t.ok(spec.admin && spec.json, `${spec.name} calls the admin contract: takes the connection flags and --json`)
  }
})

t.test('command names are unique and each resolves to its row', async t => {
  const seen = new Set<string>()
  for (const spec of COMMANDS) {
    for (const words of commandNames(spec)) {
      const name = words.join(' ')
      t.notOk(seen.has(name), `${name} is named once`)
      seen.add(name)
      const resolved = resolveCommand([...words, '--help'])
      t.equal(resolved.kind === 'command' ? resolved.spec.name : resolved.kind, spec.name, `${name} runs ${spec.name}`)
    }
    const help = commandHelp(spec)
    t.match(help, `Usage: ${usageLine(spec)}`)
    t.match(help, /Exit codes:\n {2}0 {2}ok\n {2}1 {2}refused or failed.*\n {2}2 {2}usage/)
    for (const flag of Object.keys(spec.flags ?? {})) t.match(help, `--${flag}`, `${spec.name} --help lists --${flag}`)
  }
  t.match(globalHelp(), /^ {2}dlq replay +put dead tasks back/m)
})

t.test('the connection flags the admin connection reads are all described', async t => {
  for (const [name, flag] of Object.entries(CONNECTION_FLAGS)) {
    const described = CONNECTION_FLAGS_HELP[name] ?? JSON_FLAG[name]
    t.ok(described, `--${name} has help text`)
    t.equal(described?.type, flag.type, `--${name} is a ${flag.type} flag in both`)
  }
})

t.test('a bad command line is a usage error', async t => {
  t.throws(() => resolveCommand(['frobnicate']), new UsageError('unknown command "frobnicate" (run switchyard --help)'))
  t.same(resolveCommand(['queue', 'weight']), { kind: 'group', words: ['queue', 'weight'] })
  const replay = COMMANDS.find(c => c.name === 'dlq replay')
  const get = COMMANDS.find(c => c.name === 'task retry')
  const list = COMMANDS.find(c => c.name === 'dlq list')
  if (replay === undefined || get === undefined || list === undefined) throw new Error('table rows missing')
  t.throws(() => parseCommandArgs(replay, ['--frob']), UsageError)
  t.throws(() => parseCommandArgs(get, []), { message: 'task retry: missing <id> (usage: switchyard task retry <id>)' })
  t.throws(() => parseCommandArgs(get, ['a', 'b']), { message: 'task retry: unexpected argument "b"' })
  t.throws(() => parseCommandArgs(list, ['prune'], ['dlq']), { message: /unknown command "dlq prune" \(dlq has: list, get, stats, replay, delete, purge\)/ })
  t.same(parseCommandArgs(get, ['abc', '--json']).positionals, ['abc'])
})

function input (values: FlagValues, command = 'dlq replay'): CommandInput {
  return { values, positionals: [], command, io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } }
}

t.test('dlq replay needs a selection, and a consistent one', async t => {
  t.throws(() => replaySelection(input({})), { message: /^select what to replay: --ids a,b, a filter \(--queue q, --handler h, --query text, --tenant t, --correlation-id c, --since 24h, --until t\), or --all/ })
  t.match(replaySelection(input({ tenant: 'acme', 'correlation-id': 'order-7' })), { kind: 'filter', request: { tenant: 'acme', correlationId: 'order-7' }, label: /of tenant acme and with correlation id order-7/ })
  t.throws(() => replaySelection(input({ ids: 'a', tenant: 'acme' })), UsageError, '--ids with --tenant')
  t.throws(() => replaySelection(input({ ids: 'a', queue: 'q' })), UsageError)
  t.throws(() => replaySelection(input({ ids: 'a', limit: '5' })), UsageError)
  t.throws(() => replaySelection(input({ all: true, handler: 'h' })), UsageError)
  t.throws(() => replaySelection(input({ queue: 'q', payload: '{}' })), UsageError)
  t.throws(() => replaySelection(input({ ids: ' , ' })), UsageError)
  t.match(replaySelection(input({ ids: 'a, b,a' })), { kind: 'ids', request: { ids: ['a', 'b'] } })
  t.match(replaySelection(input({ all: true })), { kind: 'filter', request: { limit: 100 } })
  t.match(replaySelection(input({ queue: 'q', handler: 'h', limit: '7', 'target-queue': 't' })), { kind: 'filter', request: { limit: 7, queue: 'q', handler: 'h', targetQueue: 't' } })
  t.match(replaySelection(input({ query: 'reset', since: '2026-01-31T08:00:00Z', 'time-field': 'finished' })), { kind: 'filter', request: { query: 'reset', since: '2026-01-31T08:00:00.000Z', timeField: 'finished' } })
  t.throws(() => replaySelection(input({ ids: 'a', since: '1h' })), UsageError, '--ids with a window')
  t.throws(() => replaySelection(input({ queue: 'q', payloads: '{}' })), UsageError, '--payloads needs --ids')
  t.throws(() => replaySelection(input({ since: 'yesterday' })), { message: /--since: "yesterday" is neither an RFC 3339 time/ })
})

t.test('dlq purge needs a selection; --since takes a duration or a time', async t => {
  const purge = (values: FlagValues) => purgeRequest(input(values, 'dlq purge'))
  t.throws(() => purge({}), { message: /^select what to purge/ })
  t.throws(() => purge({ all: true, queue: 'q' }), UsageError)
  t.throws(() => purge({ 'older-than': 'a week' }), { message: /--older-than: "a week" is not a duration/ })
  t.throws(() => purge({ queue: 'q', 'time-field': 'updated' }), { message: /--time-field: "updated" is not one of created, finished/ })
  t.same(purge({ all: true }).request, {}, '--all: no filter, the deployment\'s cap bounds it')
  t.same(purge({ tenant: 'acme', 'correlation-id': 'order-7' }).request, { tenant: 'acme', correlationId: 'order-7' }, 'tenant and correlation id select on their own')
  const before = Date.now()
  const { request } = purge({ queue: 'q', 'older-than': '7d', since: '24h', limit: '50' })
  t.match(request, { queue: 'q', olderThan: '7d', limit: 50 })
  const since = Date.parse(request.since as string)
  t.ok(since >= before - 24 * 3600_000 - 1000 && since <= Date.now() - 24 * 3600_000 + 1000, '--since 24h: a day ago')
})

t.test('bulk confirmation: --dry-run reports, --yes acts, a terminal asks, anything else is refused', async t => {
  const cases: Array<[{ dryRun: boolean, yes: boolean, interactive: boolean }, string]> = [
    [{ dryRun: true, yes: false, interactive: false }, 'dry-run'],
    [{ dryRun: true, yes: true, interactive: true }, 'dry-run'],
    [{ dryRun: false, yes: true, interactive: false }, 'act'],
    [{ dryRun: false, yes: true, interactive: true }, 'act'],
    [{ dryRun: false, yes: false, interactive: true }, 'ask'],
    [{ dryRun: false, yes: false, interactive: false }, 'refuse']
  ]
  for (const [options, decision] of cases) t.equal(decideConfirmation(options), decision, JSON.stringify(options))
  for (const yes of ['y', 'Y', 'yes', ' YES ']) t.ok(isYes(yes), `"${yes}" confirms`)
  for (const no of ['', 'n', 'no', 'yep', 'y y']) t.notOk(isYes(no), `"${no}" does not`)
})

t.test('durations read like the config and the environment', async t => {
  t.equal(durationMs('0'), 0)
  t.equal(durationMs('250'), 250, 'bare digits are milliseconds')
  t.equal(durationMs('500ms'), 500)
  t.equal(durationMs('2m'), 120_000)
  t.equal(durationMs('1h30m'), 5_400_000)
  t.equal(durationMs('7d'), 604_800_000)
  for (const bad of ['', '-5', '1.5s', '10 sekunden', 'm', '2 m']) t.equal(durationMs(bad), null, `"${bad}" is no duration`)
  t.equal(timeOrAgo('since', '1h', Date.parse('2026-01-01T12:00:00Z')), '2026-01-01T11:00:00.000Z')
  t.equal(timeOrAgo('since', '2026-01-01T12:00:00+01:00'), '2026-01-01T11:00:00.000Z')
  t.throws(() => timeOrAgo('since', 'yesterday'), UsageError)
})

t.test('--payload: JSON text, @file, or - for stdin', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-payload-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'p.json'), '{"to":"a@b"}\n')
  const empty = Readable.from([])
  t.same(await readPayload('{"n":1}', empty), { n: 1 })
  t.same(await readPayload(`@${join(dir, 'p.json')}`, empty), { to: 'a@b' })
  t.same(await readPayload('-', Readable.from([Buffer.from('[1,'), Buffer.from('2]')])), [1, 2])
  await t.rejects(readPayload('{oops', empty), { message: /^--payload: not valid JSON in the argument/ })
  await t.rejects(readPayload(`@${join(dir, 'nope.json')}`, empty), { message: /cannot read .*nope\.json: no such file/ })
  await t.rejects(readPayload('-', Readable.from(['not json'])), { message: /not valid JSON in stdin/ })
  await t.rejects(readPayload('@', empty), UsageError)
})

t.test('events: what is retried, and how long it waits', async t => {
  t.ok(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'a dropped connection')
  t.ok(isTransient(new SwitchyardError('BACKEND_UNAVAILABLE', 503, 'down')))
  t.notOk(isTransient(new SwitchyardError('VALIDATION_FAILED', 400, 'bad id')), 'a bad resume id')
  t.notOk(isTransient(new SwitchyardError('FORBIDDEN', 403, 'no')))
  t.notOk(isTransient(new SwitchyardError('NOT_IMPLEMENTED', 501, 'old')))
  t.same([1, 2, 3, 10].map(reconnectDelayMs), [250, 500, 1000, 10_000])
})

t.test('the SSE parser reads what the gateway writes', async t => {
  async function collect (chunks: string[]): Promise<unknown[]> {
    const out: unknown[] = []
    for await (const message of parseSse(Readable.from(chunks.map(c => Buffer.from(c))))) out.push(message)
    return out
  }
  t.same(await collect([': heartbeat\n\nid: 7\nevent: task.enqueued\ndata: {"a":1}\n\n']), [{ id: '7', event: 'task.enqueued', data: '{"a":1}' }])
  t.same(await collect(['id: 1\r\nda', 'ta: x\r', '\ndata: y\r\n\r\n', 'data:z\n\n']), [{ id: '1', event: 'message', data: 'x\ny' }, { event: 'message', data: 'z' }], 'CRLF, lines split across chunks, joined data')
  t.same(await collect(['data: cut off']), [], 'an unfinished message is dropped')
})

t.test('the command line: --version, --help, exit codes', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { version } = JSON.parse(await readFile(new URL('../../core/package.json', import.meta.url), 'utf8')) as { version: string }
  const printed = await runCli(['--version'], dir)
  t.equal(printed.code, 0)
  t.equal(printed.stdout, `${version}\n`, 'the core package version')
  t.same(JSON.parse((await runCli(['--version', '--json'], dir)).stdout), { version })

  const help = await runCli(['--help'], dir)
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: switchyard <command>/)
  const none = await runCli([], dir)
  t.equal(none.code, 2, 'no command is a usage error')
  const replayHelp = await runCli(['dlq', 'replay', '--help'], dir)
  t.equal(replayHelp.code, 0)
  t.match(replayHelp.stdout, /--all +replay dead tasks of every queue and handler/)
  const helpTopic = await runCli(['help', 'queue', 'weight', 'set'], dir)
  t.match(helpTopic.stdout, /^Usage: switchyard queue weight set <name> <weight>$/m)
  const group = await runCli(['schedules', 'frob'], dir)
  t.equal(group.code, 2)
  t.match(group.stderr, /unknown command "schedules frob"/)
  const unknownFlag = await runCli(['queues', '--frob'], dir)
  t.equal(unknownFlag.code, 2)
  t.match(unknownFlag.stderr, /^switchyard: queues: Unknown option '--frob'/)
})
