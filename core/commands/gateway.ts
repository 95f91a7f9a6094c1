import { loadConfig } from '../config/load.ts'
import { adminListenSettings, assertListenAddressesFree, consoleListenSetting } from '../listen-check.ts'
import { configFileOf } from './connection-flags.ts'

/** `switchyard gateway`: the HTTPS gateway (and the web console, when configured) until SIGINT/SIGTERM; a second signal exits at once. */
export async function runGateway (values: Record<string, string | boolean | undefined>): Promise<number> {
  const started = Date.now()
  const loaded = await loadConfig({ file: configFileOf(values), env: process.env })
  const consoleSetting = consoleListenSetting(loaded.config)
  await assertListenAddressesFree([...adminListenSettings(loaded.config.admin, { grpc: false }), ...(consoleSetting === null ? [] : [consoleSetting])])
  const { startGatewayProcess } = await import('../gateway.ts')
  const gw = await startGatewayProcess({ loaded })
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  out(`switchyard ${gw.version} gateway started in ${Date.now() - started} ms`)
  out(`  config:   ${gw.configFile ?? 'embedded default (no config file)'}`)
  out(`  gateway:  https://${gw.listeners.httpAddress}/admin/v1 (mutual TLS)`)
  out(`  target:   ${gw.target} (worker.v1.AdminService, mutual TLS; no backend, no worker in this process)`)
  out(`  identity: ${gw.clientCertificate} (list its identity in the service's admin.trustedGateways so calls are audited as their end users)`)
  const dev = gw.devCertificates
  if (dev !== null) out(`  certs:    ${dev.created ? 'generated' : 'using'} development certificates; CA ${dev.paths.ca}`)
  for (const frontend of gw.frontends) for (const line of frontend.banner()) out(`  ${line}`)
  out('Press Ctrl-C to stop.')

  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`switchyard: ${signal} again, exiting without waiting\n`)
        process.exit(130)
      }
      stopping = true
      out(`\n${signal} received: closing the gateway…`)
      gw.close().then(() => { out('switchyard gateway stopped cleanly'); resolve() }, (err: unknown) => {
        process.stderr.write(`switchyard: shutdown error: ${(err as Error).message}\n`)
        process.exitCode = 1
        resolve()
      })
    }
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
  })
  return 0
}
