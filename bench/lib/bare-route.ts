// A bare Fastify HTTPS route beside the gateway: the gateway's own TLS settings (mutual
// TLS), one GET /bare answering a constant body. What an HTTPS answer costs on this
// machine without the gateway, the floor its numbers are read against.
import Fastify from 'fastify'
import { gatewayHttpsOptions, type TlsMaterial } from '../../core/transport/index.ts'

export interface BareRoute {
  port: number
  close: () => Promise<void>
}

/** listening on 127.0.0.1 (a free port); `onResponseMs` gets each request's time inside the server (Fastify's elapsed time) */
export async function startBareRoute (tls: TlsMaterial, body: string | Buffer, options: { contentType?: string, onResponseMs?: (ms: number) => void } = {}): Promise<BareRoute> {
  const bare = Fastify({ https: gatewayHttpsOptions(tls), logger: false })
  const { onResponseMs } = options
  if (onResponseMs !== undefined) bare.addHook('onResponse', (_request, reply, done) => { onResponseMs(reply.elapsedTime); done() })
  const contentType = options.contentType ?? 'application/json'
  bare.get('/bare', async (_request, reply) => await reply.type(contentType).send(body))
  await bare.listen({ host: '127.0.0.1', port: 0 })
  return { port: (bare.server.address() as { port: number }).port, close: async () => { await bare.close() } }
}
