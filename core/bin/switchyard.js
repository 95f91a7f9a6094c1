#!/usr/bin/env node
// The `switchyard` command. It checks the Node.js version, then runs the CLI: the
// compiled JavaScript in dist/, or, when Node.js runs with the "switchyard-source"
// condition (the workspace's tests and tools, with a TypeScript loader such as tsx),
// the TypeScript sources. The "#cli" import in package.json chooses.
import { unsupportedNodeMessage } from './node-version.js'

const unsupported = unsupportedNodeMessage(process.versions.node)
if (unsupported !== null) {
  process.stderr.write(unsupported + '\n')
  process.exit(1)
}
await import('#cli')
