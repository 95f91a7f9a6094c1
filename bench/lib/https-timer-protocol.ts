// What admin-reads and its HTTPS client process share: how the client is started (its
// one argument, as JSON) and the messages they exchange over the IPC channel of
// child_process.fork.
import type { GcPause } from './gc-pauses.ts'

/** where and as whom the client connects: the gateway's port and the mutual-TLS material (PEM) */
export interface TimerSpec {
  port: number
  ca: string
  cert: string
  key: string
}

/**
 * parent → client: `get` answers one request's status and body; `time` times `count`
 * sequential requests. `port`: another server on 127.0.0.1 (default the spec's), reached
 * from the same process with the same TLS material over a keep-alive connection of its own
 * (admin-reads' bare route, timed by the same client as the gateway).
 */
export type TimerRequest =
  | { type: 'get', id: number, path: string, port?: number }
  | { type: 'time', id: number, path: string, count: number, port?: number }

/** client → parent */
export type TimerReply =
  | { type: 'got', id: number, status: number, body: string }
  /** latencies in ms; `sockets`: TLS connections the requests used (1 on a kept-alive connection) */
  | { type: 'timed', id: number } & TimedRequests
  | { type: 'failed', id: number, error: string }

/** what timing `count` sequential requests answers */
export interface TimedRequests {
  /** latency of each request, ms */
  samplesMs: number[]
  /** when each request started, epoch ms (to lay beside the service's collections) */
  startsAtMs: number[]
  /** TLS connections the requests used (1 on a kept-alive connection) */
  sockets: number
  /** the client process's own collections while it timed them */
  clientGc: GcPause[]
}
