// @switchyard/admin-console: the web console's server (its listener, sign-in, sessions,
// CSRF, security headers) and the admin contract under /api/ for its single-page app.
export { default, assertConsoleSettings, DEFAULT_ASSETS_DIR } from './plugin.ts'
export { createConsoleServer, VIA, type ConsoleServer, type ConsoleServerOptions, type ConsoleInfo, type SessionView } from './server.ts'
export { contractRoutes, API_PREFIX } from './api.ts'
export { hashPassword, verifyPassword, ensureGeneratedPassword } from './passwords.ts'
export { CONTENT_SECURITY_POLICY, CSRF_HEADER } from './security.ts'
export { AdminConsoleOptionsSchema, type AdminConsoleOptions } from './options.ts'
export { ConsoleErrors } from './errors.ts'
