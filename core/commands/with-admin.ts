// Runs a command body against the deployment (through the gateway, else the backend
// opened here) and closes the connection whatever happens. The connection module
// (config loading, TLS, the RPC table) is imported here, when a command has passed
// its flag checks, so a usage error costs no more than --help.
import type { AdminConnection } from './admin-connection.ts'
import type { CommandInput } from './spec.ts'

export async function withAdmin (input: CommandInput, body: (admin: AdminConnection) => Promise<number | void>): Promise<number> {
  const [{ connectAdmin }, { connectOptions }] = await Promise.all([import('./admin-connection.ts'), import('./connection-flags.ts')])
  const admin = await connectAdmin(connectOptions(input.values))
  try {
    return (await body(admin)) ?? 0
  } finally {
    await admin.close()
  }
}
