// The README's configuration reference is generated from the schema; this fails when
// they drift (fix with `npm run docs:config`).
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { withConfigReference } from '../../core/scripts/config-docs.ts'

t.test('README config reference matches the config schema', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(readme, withConfigReference(readme), 'run `npm run docs:config` to regenerate it')
})

t.test('README quick start keeps its two commands', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.match(readme, /```sh\nnpm ci && npx switchyard start\n```/)
  t.match(readme, /```sh\nnpm test\n```/)
})

t.test('README backend table matches the declared capabilities', async (t) => {
  const { withBackendTable } = await import('../../scripts/backend-table.ts')
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(readme, withBackendTable(readme), 'run `npm run docs:backends` to regenerate it')
})

t.test('README error codes match the error registry', async (t) => {
  const { withErrorCodes } = await import('../../core/scripts/error-docs.ts')
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(readme, withErrorCodes(readme), 'run `npm run docs:errors` to regenerate it')
})
