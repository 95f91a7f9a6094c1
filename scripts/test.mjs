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

// The container-engine files build images and run containers through one podman
// storage, so they wait on each other (test/support/engine-lock.ts) far more than on
// the CPU. tap starts files in alphabetical order, which put them last, as a tail of
// mostly serialized engine work with little beside it. A whole run starts them first,
// in a tap run of their own beside the others; its output is held back and printed
// after the main run's, so the two TAP streams never interleave.
const ENGINE_FILES = [
  /^test\/deploy\/image\.test\.ts$/,
  /^test\/jobs\/(artifacts|cli-logs|git-run|run|third-party-source|worker-kill)\.test\.ts$/,
  /^test\/console\/jobs\.test\.ts$/,
  /^test\/bench\/job-run\.test\.ts$/,
  /^plugins\/runtime-docker\/runtime\.test\.ts$/
]
/** engine files at once: the image build holds the engine alone anyway, job runs share it */
const ENGINE_JOBS = 2

const args = process.argv.slice(2)

function runTap (tapArgs, output) {
  const child = spawn(npm, ['exec', '--', 'tap', ...tapArgs], { stdio: output === null ? 'inherit' : ['ignore', 'pipe', 'pipe'], env })
  if (output !== null) {
    child.stdout.on('data', (chunk) => { output.push(chunk) })
    child.stderr.on('data', (chunk) => { output.push(chunk) })
  }
  const done = new Promise((resolve) => {
    child.on('error', (err) => { console.error(`tap could not be started: ${err.message}`); resolve(1) })
    child.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  })
  return { child, done }
}

/** every test file tap would run (its include and exclude), or null when tap cannot list them */
async function listFiles () {
  const lister = spawn(npm, ['exec', '--', 'tap', 'list'], { stdio: ['ignore', 'pipe', 'inherit'], env })
  let text = ''
  lister.stdout.on('data', (chunk) => { text += chunk })
  const code = await new Promise((resolve) => { lister.on('error', () => resolve(1)); lister.on('close', (c) => resolve(c ?? 1)) })
  const files = text.split('\n').map(line => line.trim()).filter(line => line !== '')
  return code === 0 && files.length > 0 ? files : null
}

const runs = []
const files = args.length === 0 ? await listFiles() : null
const engineFiles = files === null ? [] : files.filter(f => ENGINE_FILES.some(re => re.test(f)))
if (files === null || engineFiles.length === 0) {
  runs.push(runTap(args, null))
} else {
  const engineOutput = []
  // the held-back run reports in TAP unless a reporter was chosen (the interactive one needs a terminal)
  // each file may take up to 15 minutes (package.json's 300 s for the rest): these files
  // build images through one podman service two at a time, and on a slow 2-vCPU machine
  // one waited 297 s behind the other's image build; a hang is still cut off
  const engine = runTap([`--jobs=${ENGINE_JOBS}`, '--timeout=900', ...(process.env.TAP_REPORTER === undefined ? ['--reporter=tap'] : []), ...engineFiles], engineOutput)
  const main = runTap(files.filter(f => !engineFiles.includes(f)), null)
  runs.push(main, {
    child: engine.child,
    done: main.done.then(async () => {
      const code = await engine.done
      process.stdout.write(`# the container-engine files, run beside the others from the start (${engineFiles.length}):\n`)
      for (const chunk of engineOutput) process.stdout.write(chunk)
      return code
    })
  })
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { typecheck.kill(signal); for (const run of runs) run.child.kill(signal) })
}

const tapCodes = await Promise.all(runs.map(run => run.done))
const tapCode = tapCodes.find(code => code !== 0) ?? 0
const typecheckCode = await typechecked
if (typecheckCode === 0) {
  console.log('# type-check: no errors (npm run typecheck)')
} else {
  console.log(`# type-check failed (npm run typecheck exited ${typecheckCode}):`)
  console.log(typecheckOutput.trimEnd().split('\n').map(line => `#   ${line}`).join('\n'))
}
process.exit(typecheckCode !== 0 ? (tapCode !== 0 ? tapCode : 1) : tapCode)
