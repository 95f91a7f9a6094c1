// Which IP addresses a tarball download may connect to. A job definition names a URL;
// without this check it could point the worker at its own loopback services, the
// private network around it, or a cloud metadata endpoint (169.254.169.254). Addresses
// are classified from their bytes, so every spelling of an address (IPv4-mapped
// IPv6, NAT64, 6to4, zone ids) lands on the same rule.
import { isIP } from 'node:net'

/** why an address is refused, or null when it is a public unicast address */
export type AddressProblem = string | null

interface Range { bytes: number[], bits: number, why: string }

function v4 (cidr: string, why: string): Range {
  const [address, bits] = cidr.split('/') as [string, string]
  return { bytes: address.split('.').map(Number), bits: Number(bits), why }
}

const REFUSED_V4: Range[] = [
  v4('0.0.0.0/8', 'unspecified ("this network")'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (cloud metadata lives here)'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4 relay anycast'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved (and broadcast)')
]

function inRange (bytes: Uint8Array, range: Range): boolean {
  let bits = range.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if (((bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false
  }
  return true
}

function parseV4 (text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number))
}

/** 16 bytes of an IPv6 address (isIP already said it is one; the zone id is gone). */
function parseV6 (text: string): Uint8Array {
  let groups: number[] = []
  let tail = text
  const lastColon = tail.lastIndexOf(':')
  const embedded = tail.slice(lastColon + 1).includes('.') ? parseV4(tail.slice(lastColon + 1)) : null
  if (embedded !== null) tail = tail.slice(0, lastColon + 1) + '0:0'
  const [head = '', rest] = tail.split('::') as [string, string | undefined]
  const toGroups = (part: string) => part === '' ? [] : part.split(':').map(g => parseInt(g, 16))
  if (rest === undefined) {
    groups = toGroups(head)
  } else {
    const left = toGroups(head)
    const right = toGroups(rest)
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  }
  const bytes = new Uint8Array(16)
  groups.forEach((g, i) => { bytes[i * 2] = g >> 8; bytes[i * 2 + 1] = g & 0xff })
  if (embedded !== null) bytes.set(embedded, 12)
  return bytes
}

function classifyV4 (bytes: Uint8Array): AddressProblem {
  for (const range of REFUSED_V4) if (inRange(bytes, range)) return range.why
  return null
}

function startsWith (bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b)
}

function classifyV6 (bytes: Uint8Array): AddressProblem {
  const zeros = (n: number) => bytes.subarray(0, n).every(b => b === 0)
  if (zeros(16)) return 'unspecified'
  if (zeros(15) && bytes[15] === 1) return 'loopback'
  // Forms that carry an IPv4 address: judged by the IPv4 address they reach.
  if (zeros(10) && bytes[10] === 0xff && bytes[11] === 0xff) return prefixed('IPv4-mapped', classifyV4(bytes.subarray(12)))
  if (zeros(12)) return prefixed('IPv4-compatible', classifyV4(bytes.subarray(12)))
  if (startsWith(bytes, [0x00, 0x64, 0xff, 0x9b]) && bytes.subarray(4, 12).every(b => b === 0)) return prefixed('NAT64', classifyV4(bytes.subarray(12)))
  if (startsWith(bytes, [0x20, 0x02])) return prefixed('6to4', classifyV4(bytes.subarray(2, 6)))
  const first = bytes[0] as number
  const second = bytes[1] as number
  if (first === 0xff) return 'multicast'
  if ((first & 0xfe) === 0xfc) return 'unique local (fc00::/7)'
  if (first === 0xfe && (second & 0xc0) === 0x80) return 'link-local (fe80::/10)'
  if (first === 0xfe && (second & 0xc0) === 0xc0) return 'site-local (fec0::/10)'
  if (startsWith(bytes, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) return 'local-use NAT64 (64:ff9b:1::/48)'
  if (startsWith(bytes, [0x01, 0x00, 0, 0, 0, 0, 0, 0])) return 'discard-only (100::/64)'
  if (startsWith(bytes, [0x20, 0x01, 0x0d, 0xb8])) return 'documentation (2001:db8::/32)'
  if (startsWith(bytes, [0x20, 0x01, 0x00, 0x00])) return 'Teredo tunnel (2001::/32)'
  if (startsWith(bytes, [0x20, 0x01]) && (second === 0x01) && (bytes[2] as number) < 0x02) return 'IETF protocol assignments (2001::/23)'
  // Only global unicast (2000::/3) is public; everything else is reserved.
  if ((first & 0xe0) !== 0x20) return 'reserved (outside 2000::/3)'
  return null
}

function prefixed (form: string, problem: AddressProblem): AddressProblem {
  return problem === null ? null : `${form} ${problem}`
}

/** Why `address` must not be connected to, or null when it is a public unicast address. */
export function addressProblem (address: string): AddressProblem {
  const bare = address.replace(/%.*$/, '')
  const family = isIP(bare)
  if (family === 4) return classifyV4(parseV4(bare))
  if (family === 6) return classifyV6(parseV6(bare))
  return 'not an IP address'
}

/** One spelling per address (IPv6 compressed, lower case, no zone), for comparing addresses an operator listed. */
export function normalizeAddress (address: string): string {
  const bare = address.replace(/%.*$/, '').replace(/^\[(.*)\]$/, '$1')
  if (isIP(bare) !== 6) return bare
  // The WHATWG URL parser prints IPv6 hosts in their canonical compressed form.
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1)
}
