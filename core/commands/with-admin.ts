// Runs a command body against the deployment (through the gateway, else the backend
// opened here) and closes the connection whatever happens.
import { connectAdmin, type AdminConnection } from './admin-connection.ts'
import { connectOptions } from './connection-flags.ts'
import type { CommandInput } from './spec.ts'

export async function withAdmin (input: CommandInput, body: (admin: AdminConnection) => Promise<number | void>): Promise<number> {
  const admin = await connectAdmin(connectOptions(input.values))
  try {
    return (await body(admin)) ?? 0
  } finally {
    await admin.close()
  }
}
