import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// Passwords are kept only as scrypt hashes: `scrypt$N$r$p$salt$hash` (salt and hash
// base64), the format config's console.auth.users takes and the generated password's
// file holds.

const N = 16384
const R = 8
const P = 1
const KEY_BYTES = 32
const MAX_PASSWORD_BYTES = 1024
const HASH_FORMAT = /^scrypt\$([0-9]+)\$([0-9]+)\$([0-9]+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/

function scrypt (password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keylen, options, (err, key) => { if (err === null) resolve(key); else reject(err) })
  })
}

export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, KEY_BYTES, { N, r: R, p: P })
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** false for a wrong password and for a malformed hash; the comparison takes the same time whatever matches */
export async function verifyPassword (password: string, hash: string): Promise<boolean> {
  const match = HASH_FORMAT.exec(hash)
  if (match === null || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false
  const [n, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])]
  // A hash from the config could ask for any cost; these bounds keep one check under a second.
  if (n < 2 || n > 1 << 20 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return false
  const expected = Buffer.from(match[5] as string, 'base64')
  if (expected.length < 16 || expected.length > 128) return false
  const key = await scrypt(password, Buffer.from(match[4] as string, 'base64'), expected.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 })
  return timingSafeEqual(key, expected)
}

export const GENERATED_USER = 'admin'

export interface GeneratedPassword {
  file: string
  user: string
  hash: string
  /** the password itself, only on the start that generated it (printed once) */
  created: string | null
}

/**
 * The password of the generated admin user in <dataDir>/console/password.json:
 * read when present, else generated, stored hashed (mode 0600) and handed back once.
 */
export async function ensureGeneratedPassword (dataDir: string): Promise<GeneratedPassword> {
  const dir = join(dataDir, 'console')
  const file = join(dir, 'password.json')
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (existing !== null) {
    const stored = JSON.parse(existing) as { user?: unknown, passwordHash?: unknown }
    if (typeof stored.user === 'string' && typeof stored.passwordHash === 'string' && HASH_FORMAT.test(stored.passwordHash)) {
      return { file, user: stored.user, hash: stored.passwordHash, created: null }
    }
    throw new Error(`${file} is not a console password file ({"user", "passwordHash"}); delete it to generate a new password`)
  }
  const password = randomBytes(18).toString('base64url')
  const hash = await hashPassword(password)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify({ user: GENERATED_USER, passwordHash: hash }, null, 2) + '\n', { mode: 0o600 })
  await rename(temporary, file)
  return { file, user: GENERATED_USER, hash, created: password }
}
