// The pure rules: which addresses are refused (every spelling of them), which hosts
// the allowlist lets through, and which URLs are refused before anything happens.
import t from 'tap'
import { addressProblem, normalizeAddress } from './address.ts'
import { HostAllowlist, checkTarballUrl } from './url-rules.ts'

t.test('non-public addresses are refused in every spelling', async t => {
  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.1.2', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.0.10', /private/],
    ['169.254.169.254', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.254', /carrier-grade NAT/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['255.255.255.255', /reserved/],
    ['198.18.0.1', /benchmarking/],
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['0:0:0:0:0:0:0:1', /loopback/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf::1', /link-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /IPv4-mapped loopback/],
    ['::ffff:7f00:1', /IPv4-mapped loopback/],
    ['::ffff:169.254.169.254', /IPv4-mapped link-local/],
    ['::ffff:10.0.0.1', /IPv4-mapped private/],
    ['0:0:0:0:0:ffff:c0a8:0101', /IPv4-mapped private/],
    ['::127.0.0.1', /IPv4-compatible loopback/],
    ['64:ff9b::a9fe:a9fe', /NAT64 link-local/],
    ['2002:7f00:1::', /6to4 loopback/],
    ['2002:a00:1::1', /6to4 private/],
    ['2001:db8::1', /documentation/],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
    ['100::1', /discard/],
    ['::2', /IPv4-compatible unspecified|reserved/],
    ['4000::1', /reserved/]
  ]
  for (const [address, why] of refused) t.match(addressProblem(address), why, address)
  t.equal(addressProblem('not-an-ip'), 'not an IP address')
})

t.test('public addresses pass', async t => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '169.253.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
    t.equal(addressProblem(address), null, address)
  }
})

t.test('addresses are compared in one spelling', async t => {
  t.equal(normalizeAddress('0:0:0:0:0:0:0:1'), '::1')
  t.equal(normalizeAddress('[FE80::1%eth0]'), 'fe80::1')
  t.equal(normalizeAddress('10.0.0.7'), '10.0.0.7')
})

t.test('the host allowlist: exact names, subdomain wildcards, "*", nothing when empty', async t => {
  const list = new HostAllowlist(['Downloads.Example.com.', '*.cdn.example.net', '203.0.113.7', '[2001:db8::1]'])
  t.ok(list.allows('downloads.example.com'))
  t.ok(list.allows('DOWNLOADS.EXAMPLE.COM.'))
  t.notOk(list.allows('example.com'))
  t.notOk(list.allows('evil-downloads.example.com'))
  t.ok(list.allows('a.cdn.example.net'))
  t.ok(list.allows('a.b.cdn.example.net'))
  t.notOk(list.allows('cdn.example.net'), 'a wildcard is for subdomains only')
  t.notOk(list.allows('evilcdn.example.net'))
  t.ok(list.allows('203.0.113.7'))
  t.ok(list.allows('[2001:db8::1]'))
  t.ok(new HostAllowlist(['*']).allows('anything.example'))
  t.notOk(new HostAllowlist([]).allows('localhost'))
})

t.test('URL rules: https only, no credentials, allowlisted host', async t => {
  const list = new HostAllowlist(['example.com'])
  t.equal(checkTarballUrl('https://example.com/a.tgz#frag', list, 'tarballUrl').url.href, 'https://example.com/a.tgz')
  t.equal(checkTarballUrl('https://EXAMPLE.com:8443/a.tgz', list, 'tarballUrl').port, 8443)
  t.throws(() => checkTarballUrl('http://example.com/a.tgz', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /is not https/ })
  t.throws(() => checkTarballUrl('file:///etc/passwd', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /is not https/ })
  t.throws(() => checkTarballUrl('ftp://example.com/a', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED' })
  t.throws(() => checkTarballUrl('https://a:b@example.com/a', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /credentials/ })
  t.throws(() => checkTarballUrl('https://example.com.evil.net/a', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /not on the tarball host allowlist/ })
  t.throws(() => checkTarballUrl('not a url', list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /is not a URL/ })
  t.throws(() => checkTarballUrl(`https://example.com/${'a'.repeat(5000)}`, list, 'tarballUrl'), { code: 'JOB_SOURCE_REFUSED', message: /longer than/ })
})
