// Shell completion generated from the command table: bash with the script sourced
// proposes commands, subcommands, flags and flag values (its completion function
// called non-interactively, as bash calls it on TAB); the zsh script parses.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bashScript, zshScript } from '../../core/commands/completion.ts'
import { COMMANDS } from '../../core/commands/table.ts'

const exec = promisify(execFile)
const dir = await mkdtemp(join(tmpdir(), 'sy-completion-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
await writeFile(join(dir, 'switchyard.bash'), bashScript())
await writeFile(join(dir, 'switchyard.zsh'), zshScript())

/** what bash proposes for the words typed so far (the last one is being completed) */
async function complete (...words: string[]): Promise<string[]> {
  const array = ['switchyard', ...words].map(w => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')
  const script = `source ${join(dir, 'switchyard.bash')}; COMP_WORDS=(${array}); COMP_CWORD=${words.length}; _switchyard_complete; printf '%s\\n' "\${COMPREPLY[@]}"`
  const { stdout } = await exec('bash', ['--norc', '--noprofile', '-c', script], { cwd: dir })
  return stdout.split('\n').filter(line => line !== '')
}

t.test('bash completes commands, subcommands, flags and values', async t => {
  const top = await complete('')
  for (const word of new Set(COMMANDS.map(c => c.name.split(' ')[0] as string))) t.ok(top.includes(word), `proposes ${word}`)
  t.same(await complete('sch'), ['schedules'])
  t.same((await complete('dlq', '')).sort(), ['delete', 'get', 'list', 'purge', 'replay', 'stats'])
  t.same((await complete('queue', 'weight', '')).sort(), ['reset', 'set'])
  const replayFlags = await complete('dlq', 'replay', '--')
  for (const flag of ['--ids', '--queue', '--handler', '--all', '--dry-run', '--yes', '--json', '--url', '--config', '--help']) t.ok(replayFlags.includes(flag), `dlq replay proposes ${flag}`)
  t.same(await complete('dlq', 'replay', '--dr'), ['--dry-run'])
  t.same((await complete('tasks', '--state', 're')).sort(), ['ready', 'retrying'], 'values of --state')
  t.same(await complete('audit', 'export', '--format', 'c'), ['csv'])
  t.same((await complete('completion', '')).sort(), ['bash', 'zsh'])
  t.same(await complete('--config', 'x', 'queues', '--js'), [], 'the command comes first, as the dispatcher reads it')
  t.same(await complete('tasks', '--queue', 'dlq', '--lim'), ['--limit'], 'a flag value that looks like a command is skipped')
  await writeFile(join(dir, 'payload.json'), '{}')
  t.same(await complete('enqueue', 'noop', '--payload', 'pay'), ['payload.json'], 'file names for --payload')
})

const hasZsh = await exec('zsh', ['--version']).then(() => true, () => false)
t.test('the zsh script is valid zsh', { skip: hasZsh ? false : 'zsh is not installed' }, async t => {
  await exec('zsh', ['-n', join(dir, 'switchyard.zsh')])
  // loads with compinit and registers the function for switchyard
  const { stdout } = await exec('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -d ${join(dir, 'zcompdump')} && source ${join(dir, 'switchyard.zsh')} && print -r -- $_comps[switchyard]`])
  t.equal(stdout.trim(), '_switchyard')
})
