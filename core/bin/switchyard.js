#!/usr/bin/env node
// Switchyard ships TypeScript sources; tsx compiles them on load so there is no build step.
import { register } from 'tsx/esm/api'
register()
await import('../cli.ts')
