import t from 'tap'
import { checkRepoUrl, checkTagName, repoAllowed } from './validate.ts'

t.test('https and ssh URLs in canonical form are accepted', async t => {
  for (const good of ['https://github.com/acme/app.git', 'https://git.example.com:8443/team/app', 'ssh://git@github.com/acme/app.git', 'ssh://git.example.com:2222/srv/app.git', 'git@github.com:acme/app.git']) {
    t.doesNotThrow(() => { checkRepoUrl(good) }, good)
  }
})

t.test('everything else is refused naming the value', async t => {
  for (const bad of ['', 'file:///srv/app.git', 'ext::sh -c id', 'http://github.com/a/b', 'git://github.com/a/b', '/srv/app.git', 'app.git', '-uid', '--upload-pack=id',
    'https://GitHub.com/a/b', 'https://github.com:443/a/b', 'https://github.com/a/../b', 'https://github.com/a/%2e%2e/b', 'https://u:p@github.com/a/b', 'https://u@github.com/a/b',
    'https://github.com/a/b#x', 'https://github.com/a b', 'https://github.com/', 'ssh://-oProxyCommand=id/x', 'git@-oProxyCommand=id:x', 'git@host:-x', 'git@host:a/../b', 'https://github.com/a\\b']) {
    t.throws(() => { checkRepoUrl(bad) }, { code: 'JOB_SOURCE_REFUSED', details: { field: 'repo' } }, JSON.stringify(bad))
  }
})

t.test('tag names follow check-ref-format; SHAs and options are refused', async t => {
  for (const good of ['v1.0', 'release/2024-01', 'v1.0-rc.1', 'v1+build', 'deadbee']) t.doesNotThrow(() => { checkTagName(good) }, good)
  for (const bad of ['', '-v1', '--x', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', 'a@{1}', '@', '/a', 'a/', 'a.', 'a//b', '.a', 'a/.b', 'a.lock', 'refs/tags/v1',
    'a'.repeat(201), 'e83c5163316f89bfbde7d9ab23ca2e25604af290', 'a\u0001b']) {
    t.throws(() => { checkTagName(bad) }, { code: 'JOB_SOURCE_REFUSED', details: { field: 'tag' } }, JSON.stringify(bad))
  }
})

t.test('allowlist: *, exact URLs, prefixes that end at a separator', async t => {
  t.ok(repoAllowed('https://h/acme/app.git', ['*']))
  t.ok(repoAllowed('https://h/acme/app.git', ['https://h/acme/app.git']))
  t.ok(repoAllowed('https://h/acme/app.git', ['https://h/acme/']))
  t.ok(repoAllowed('git@h:acme/app.git', ['git@h:']))
  t.notOk(repoAllowed('https://h/acme-evil/app.git', ['https://h/acme']))
  t.notOk(repoAllowed('https://h/acme/app.git.evil', ['https://h/acme/app.git']))
  t.notOk(repoAllowed('https://h/acme/app.git', []))
})
