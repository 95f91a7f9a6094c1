// The README's command reference is generated from the command table; this fails when
// they drift (fix with `npm run docs:cli`).
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { withCliReference } from '../../core/scripts/cli-docs.ts'

t.test('README command reference matches the command table', async t => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(readme, withCliReference(readme), 'run `npm run docs:cli` to regenerate it')
})
