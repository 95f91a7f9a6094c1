// The local TCP ports this process holds open to a server port, whichever client
// library opened them: from /proc/self/fd (socket inodes) and /proc/net/tcp*. Linux only;
// elsewhere the answer is empty. The benchmarks use it to tell their own connections
// from everyone else's on a shared server.
import { readdir, readFile, readlink } from 'node:fs/promises'

/** local ports of this process's TCP sockets whose remote port is `serverPort` */
export async function ownPortsTo (serverPort: number): Promise<number[]> {
  const inodes = new Set<string>()
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    const m = /^socket:\[(\d+)\]$/.exec(target)
    if (m !== null) inodes.add(m[1]!)
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

