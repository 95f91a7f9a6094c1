// Counts top-level test blocks (one level below each test file) in tap's TAP output
// and prints the "N passed, N failed" line CI reads. A file that fails without any
// failing block (a crash, a type error run) counts as one failure, and a non-zero
// exit from the test command never prints "0 failed".
import { readFileSync } from 'node:fs'

const [file, statusArg] = process.argv.slice(2)
const status = Number(statusArg)
let passed = 0
let failed = 0
let failedInFile = 0
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (/^ {4}ok \d+/.test(line)) passed++
  else if (/^ {4}not ok \d+/.test(line)) { failed++; failedInFile++ }
  else if (/^not ok \d+/.test(line)) {
    if (failedInFile === 0) failed++
    failedInFile = 0
  } else if (/^ok \d+/.test(line)) failedInFile = 0
}
if (status !== 0 && failed === 0) failed = 1
console.log(`${passed} passed, ${failed} failed`)
process.exit(status !== 0 || failed > 0 ? 1 : 0)
