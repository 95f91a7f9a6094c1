import t from 'tap'
import { importFailureMessage, isTypeScriptLoadFailure } from './module-import.ts'

function nodeError (code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

t.test('a TypeScript file Node.js cannot load is answered with what to do', async t => {
  const err = nodeError('ERR_UNKNOWN_FILE_EXTENSION', 'Unknown file extension ".ts" for /app/handlers.ts')
  t.ok(isTypeScriptLoadFailure('/app/handlers.ts', err))
  const message = importFailureMessage('/app/handlers.ts', err)
  t.match(message, /^\/app\/handlers\.ts is TypeScript, which this Node\.js does not run: compile it and name the \.js file/)
  t.match(message, /NODE_OPTIONS="--import tsx"/)
  t.notMatch(message, /\n/, 'one line')
  t.ok(isTypeScriptLoadFailure('/app/h.mts', nodeError('ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'x')), 'Node.js type stripping refusing syntax counts too')
})

t.test('any other failure keeps the first line of its own message', async t => {
  t.notOk(isTypeScriptLoadFailure('/app/handlers.js', nodeError('ERR_UNKNOWN_FILE_EXTENSION', 'x')), 'not a TypeScript file')
  t.equal(importFailureMessage('/app/handlers.ts', new Error('boom\n    at somewhere')), 'boom')
  t.equal(importFailureMessage('/app/handlers.js', 'plain'), 'plain')
})
