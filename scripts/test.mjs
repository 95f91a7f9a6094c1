#!/usr/bin/env node
// `npm test`: the type-check (`npm run typecheck`) and every test (tap) side by side.
// The type-check is one single-threaded tsc run of about a minute of CPU; the tests
// wait on servers, child processes and a browser much of the time, so running both
// at once finishes sooner than one after the other. The type-check's output is held
// back and printed after tap's, so it never interleaves with the TAP stream; the
// exit code is non-zero when either fails. Arguments go to tap (npm test -- <files>).
import { spawn } from 'node:child_process'

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

// The test processes load tap's process tracker, which records every file each one
// loads for coverage; this workspace collects none (package.json: disable-coverage),
// and excluding every file saves its per-module work (about 0.3–0.8 s of CPU per test
// process). scripts/workspace-sources.mjs keeps it out of the processes tests spawn.
const env = { ...process.env, _TAPJS_PROCESSINFO_EXCLUDE_: process.env._TAPJS_PROCESSINFO_EXCLUDE_ ?? '/./' }

let typecheckOutput = ''
const typecheck = spawn(npm, ['run', '--silent', 'typecheck'], { stdio: ['ignore', 'pipe', 'pipe'] })
typecheck.stdout.on('data', (chunk) => { typecheckOutput += chunk })
typecheck.stderr.on('data', (chunk) => { typecheckOutput += chunk })
const typechecked = new Promise((resolve) => {
  typecheck.on('error', (err) => { typecheckOutput += `${err.message}\n`; resolve(1) })
  typecheck.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
})

const tap = spawn(npm, ['exec', '--', 'tap', ...process.argv.slice(2)], { stdio: 'inherit', env })
const tested = new Promise((resolve) => {
  tap.on('error', (err) => { console.error(`tap could not be started: ${err.message}`); resolve(1) })
  tap.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { typecheck.kill(signal); tap.kill(signal) })
}

const [typecheckCode, tapCode] = await Promise.all([typechecked, tested])
if (typecheckCode === 0) {
  console.log('# type-check: no errors (npm run typecheck)')
} else {
  console.log(`# type-check failed (npm run typecheck exited ${typecheckCode}):`)
  console.log(typecheckOutput.trimEnd().split('\n').map(line => `#   ${line}`).join('\n'))
}
process.exit(typecheckCode !== 0 ? (tapCode !== 0 ? tapCode : 1) : tapCode)
