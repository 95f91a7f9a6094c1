// What the Postgres server spends on this benchmark: the CPU of the server backends
// serving this process's connections, and the write-ahead log written.
//
// CPU: the backends are found through the sockets this process (or the client
// processes named) hold open to the server (their local TCP ports, from
// /proc/<pid>/fd and /proc/net/tcp*, matched to
// pg_stat_activity.client_port), whichever client library opened them, and their
// CPU is read from /proc/<pid>/stat (utime + stime). Only a server on this machine
// can be read that way; for any other the sampler reports nothing. Background
// processes (WAL writer, checkpointer, autovacuum) are shared by every client of the
// server and not counted.
//
// WAL: pg_current_wal_lsn() is server-wide, so on a server other clients write to at
// the same time it counts their WAL too.
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { portsTo, type ClientProcess } from './own-ports.ts'
// connect() bounds every sample: 10 s to connect, statement_timeout 120 s
import { POSTGRES_URL, withClient } from './postgres.ts'

function clockTicksPerSecond (): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim())
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
}

/** utime + stime in clock ticks of a local Postgres process; null when it is not one (gone, or not on this machine) */
async function postgresTicks (pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (stat === null) return null
  const open = stat.indexOf('(')
  const close = stat.lastIndexOf(')')
  if (open < 0 || close < open || !stat.slice(open + 1, close).startsWith('postgres')) return null
  const fields = stat.slice(close + 2).split(' ')
  // after "pid (comm) ": state is field 3 of stat(5), utime 14, stime 15
  return Number(fields[11]) + Number(fields[12])
}

/**
 * CPU seconds the server backends of this process's connections (or of the client
 * processes given) have used, summed over every backend seen by any sample (a backend
 * that closed keeps what it last showed). Call it around a phase and subtract. Throws
 * when Postgres is not on this machine.
 */
export class OwnBackendCpu {
  private readonly lastTicks = new Map<number, number>()
  private readonly ticksPerSecond = clockTicksPerSecond()
  private readonly serverPort = Number(new URL(POSTGRES_URL).port || 5432)

  constructor (private readonly clients: () => readonly ClientProcess[] = () => ['self']) {}

  async seconds (): Promise<number> {
    const ports = await portsTo(this.serverPort, this.clients())
    const pids = await withClient(async client => {
      // the sampling connection is ours too, but it is not the workload's: left out
      const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[]) AND pid <> pg_backend_pid()', [ports])
      return rows.map(r => r.pid)
    })
    let foundLocal = pids.length === 0
    for (const pid of pids) {
      const ticks = await postgresTicks(pid)
      if (ticks === null) continue
      foundLocal = true
      this.lastTicks.set(pid, Math.max(ticks, this.lastTicks.get(pid) ?? 0))
    }
    if (!foundLocal) throw new Error(`the server backends of ${POSTGRES_URL} are not processes of this machine; their CPU cannot be read`)
    let total = 0
    for (const ticks of this.lastTicks.values()) total += ticks
    return total / this.ticksPerSecond
  }
}

/** true when the backends serving this process can be read from /proc (a Postgres on this machine) */
export async function backendCpuReadable (): Promise<boolean> {
  const sampler = new OwnBackendCpu()
  return await withClient(async () => {
    // one connection of ours is open now: its backend must be found and readable
    try {
      await sampler.seconds()
      return true
    } catch {
      return false
    }
  })
}

/** the server's current WAL insert position, in bytes from 0/0 */
export async function walBytes (): Promise<number> {
  return await withClient(async client => {
    const { rows } = await client.query<{ bytes: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS bytes")
    return Number(rows[0]!.bytes)
  })
}
