// The local TCP ports processes of this machine hold open to a server port, whichever
// client library opened them: from /proc/<pid>/fd (socket inodes) and /proc/net/tcp*.
// Linux only; elsewhere the answer is empty. The benchmarks use it to tell their own
// connections (or their worker processes') from everyone else's on a shared server.
import { readdir, readFile, readlink } from 'node:fs/promises'

/** a client process: this one ('self') or another of this machine by pid */
export type ClientProcess = number | 'self'

/** local ports of the processes' TCP sockets whose remote port is `serverPort` (a process that is gone has none) */
export async function portsTo (serverPort: number, clients: readonly ClientProcess[]): Promise<number[]> {
  const inodes = new Set<string>()
  for (const client of clients) {
    const fds = await readdir(`/proc/${client}/fd`).catch(() => [] as string[])
    for (const fd of fds) {
      const target = await readlink(`/proc/${client}/fd/${fd}`).catch(() => '')
      const m = /^socket:\[(\d+)\]$/.exec(target)
      if (m !== null) inodes.add(m[1]!)
    }
  }
  const ports: number[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10) continue
      const local = cols[1]!
      const remote = cols[2]!
      if (parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16) !== serverPort) continue
      if (inodes.has(cols[9]!)) ports.push(parseInt(local.slice(local.lastIndexOf(':') + 1), 16))
    }
  }
  return ports
}

/** local ports of this process's TCP sockets whose remote port is `serverPort` */
export function ownPortsTo (serverPort: number): Promise<number[]> {
  return portsTo(serverPort, ['self'])
}
