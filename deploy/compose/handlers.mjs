// The handlers the compose deployment's workers run: `checksum` hashes the text it is
// given, so `switchyard enqueue checksum --payload '{"text":"hello"}'` shows a task
// going through the gateway, the admin service and a worker replica. An application
// mounts its own modules here instead (each exporting `handlers`).
import { createHash } from 'node:crypto'
import { hostname } from 'node:os'

export const handlers = {
  async checksum (payload) {
    if (typeof payload?.text !== 'string') throw new Error('checksum: payload.text must be a string')
    return { sha256: createHash('sha256').update(payload.text).digest('hex'), worker: hostname() }
  }
}
