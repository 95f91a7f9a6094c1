// Files that travel inside the @switchyard/core package beside its code. They are
// found through the package's own "exports" (a self-reference), so the same line
// works from the TypeScript sources in a checkout and from the compiled dist/ of an
// installed package, whose files sit one directory deeper.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** Absolute path of worker/v1/admin.proto, the gRPC contract */
export const ADMIN_PROTO_PATH: string = require.resolve('@switchyard/core/proto/worker/v1/admin.proto')

/** The version of this @switchyard/core package */
export const PACKAGE_VERSION: string = (require('@switchyard/core/package.json') as { version: string }).version
