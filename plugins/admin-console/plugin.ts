// The admin-console plugin: the web console on its own listener (console.addr),
// started by processes that serve the admin contract (`switchyard start`) or a
// gateway in front of a remote one (`switchyard gateway`).
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { definePlugin } from '@switchyard/core/plugin'
import { ConfigError, listenError, parseListenAddress, type ResolvedConsole, type Role } from '@switchyard/core'
import { isLoopbackHost, type PasswordUser } from './auth.ts'
import { AdminConsoleOptionsSchema } from './options.ts'
import { ensureGeneratedPassword } from './passwords.ts'
import { createConsoleServer } from './server.ts'

const PACKAGE_DIR = ((here: string) => basename(here) === 'dist' ? dirname(here) : here)(dirname(fileURLToPath(import.meta.url)))
export const DEFAULT_ASSETS_DIR = join(PACKAGE_DIR, 'dist-app')

/** The settings that must be refused before anything starts (SPEC §4: `none` only on loopback; no plaintext listener). */
export function assertConsoleSettings (settings: ResolvedConsole): void {
  const { host } = parseListenAddress(settings.addr, 'console.addr')
  const loopback = isLoopbackHost(host)
  const { mode } = settings.auth
  if (mode === 'none' && !loopback) {
    throw ConfigError(`console.auth.mode none is refused on ${settings.addr}: without sign-in the console may only listen on a loopback address (127.0.0.1, [::1]); choose password, bearer or header auth, or bind console.addr (SWITCHYARD_CONSOLE_ADDR) to 127.0.0.1`, {
      details: { field: 'console.auth.mode', addr: settings.addr }
    })
  }
  if (settings.plain && !loopback && mode !== 'header' && mode !== 'bearer') {
    throw ConfigError(`console.plain (plain HTTP) on ${settings.addr} is allowed only with header or bearer auth behind a TLS-terminating proxy, or on a loopback address`, {
      details: { field: 'console.plain', addr: settings.addr }
    })
  }
  if (mode === 'bearer' && settings.auth.tokens.length === 0) {
    throw ConfigError('console.auth.mode bearer needs console.auth.tokens (name, sha256 of the token, role)', { details: { field: 'console.auth.tokens' } })
  }
  if (mode === 'header' && settings.auth.header.proxies.length === 0) {
    throw ConfigError('console.auth.mode header needs console.auth.header.proxies: the addresses of the proxies whose header is believed', { details: { field: 'console.auth.header.proxies' } })
  }
}

function localUserName (): string {
  try {
    const name = userInfo().username
    if (/^[A-Za-z0-9._-]{1,64}$/.test(name)) return name
  } catch {
    // no passwd entry (a container): fall through
  }
  return 'local'
}

export default definePlugin({
  name: 'admin-console',
  version: '0.1.0',
  options: AdminConsoleOptionsSchema,
  register (hooks, options, ctx) {
    const settings = ctx.config.console
    assertConsoleSettings(settings)
    const assetsDir = options.assetsDir === undefined ? DEFAULT_ASSETS_DIR : isAbsolute(options.assetsDir) ? options.assetsDir : resolve(ctx.configDir, options.assetsDir)
    hooks.registerAdminFrontend({
      name: 'admin-console',
      async start (frontend) {
        const users = new Map<string, PasswordUser>(Object.entries(settings.auth.users).map(([name, user]) => [name, { hash: user.passwordHash, role: user.role as Role }]))
        const generated = settings.auth.mode === 'password' && users.size === 0 ? await ensureGeneratedPassword(ctx.config.dataDir) : null
        if (generated !== null) users.set(generated.user, { hash: generated.hash, role: 'admin' })
        const remote = frontend.remoteTarget !== undefined
        const tls = settings.plain ? null : { cert: await readFile(frontend.tls.cert), key: await readFile(frontend.tls.key) }
        const server = createConsoleServer({
          admin: frontend.admin,
          settings,
          tls,
          passwordUsers: users,
          localUser: localUserName(),
          assetsDir,
          // Behind `switchyard gateway` this process's admin.* guards do not apply: the remote service's do (asked through GetSession).
          info: remote
            ? { version: frontend.version, backend: frontend.backend, adminReadOnly: false, approvalRequired: false }
            : { version: frontend.version, backend: frontend.backend, adminReadOnly: ctx.config.admin.readOnly, approvalRequired: ctx.config.admin.requireApproval },
          ...(frontend.remoteTarget === undefined ? {} : { remoteTarget: frontend.remoteTarget }),
          log: ctx.log,
          bodyLimitBytes: ctx.config.admin.bodyLimitBytes,
          callTimeoutMs: Math.max(30_000, ctx.config.admin.requestTimeoutMs * 3)
        })
        try {
          await server.listen(settings.addr)
        } catch (err) {
          await server.close().catch(() => {})
          throw listenError({ key: 'console.addr', env: 'SWITCHYARD_CONSOLE_ADDR', addr: settings.addr }, err) ?? err
        }
        ctx.log.info(`web console listening on ${server.url ?? settings.addr}`)
        return {
          banner () {
            const lines = [`console:  ${server.url ?? ''}/ (sign-in: ${settings.auth.mode})`]
            lines.push(`          open once to sign in as ${localUserName()}: ${server.signInUrl()}`)
            if (generated !== null) {
              lines.push(generated.created === null
                ? `          user ${generated.user}, password stored hashed in ${generated.file} (delete it and restart for a new one)`
                : `          user ${generated.user}, password ${generated.created} (generated now and shown only this once; stored hashed in ${generated.file})`)
            }
            return lines
          },
          async close () { await server.close() }
        }
      }
    })
  }
})
