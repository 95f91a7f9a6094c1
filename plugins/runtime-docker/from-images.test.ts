import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { baseImagesOf, checkBaseImages } from './from-images.ts'

t.test('the base images of a Dockerfile, without its own stages and scratch', async t => {
  t.same(baseImagesOf('FROM localhost/base:1\nRUN echo hi\n'), ['localhost/base:1'])
  t.same(baseImagesOf([
    '# syntax comment',
    'ARG BASE=localhost/base:2',
    'FROM --platform=linux/amd64 ${BASE} AS build',
    'RUN make \\',
    '  all',
    'FROM build AS test',
    'from scratch',
    'FROM localhost/other:3',
    'COPY --from=build /out /out'
  ].join('\n')), ['localhost/base:2', 'localhost/other:3'])
  t.throws(() => baseImagesOf('ARG BASE\nFROM $BASE\n'), { code: 'IMAGE_BUILD_FAILED' }, 'a FROM that depends on an unset build argument is refused')
  t.throws(() => baseImagesOf('FROM\n'), { code: 'IMAGE_BUILD_FAILED' })
})

t.test('a base image the engine lacks refuses the build', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-from-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'Dockerfile'), 'FROM localhost/here:1 AS a\nFROM registry.example/missing:2\n')
  const asked: string[] = []
  const exists = async (ref: string): Promise<boolean> => { asked.push(ref); return ref === 'localhost/here:1' }
  await t.rejects(checkBaseImages(join(dir, 'Dockerfile'), exists), { code: 'IMAGE_BUILD_FAILED', message: /registry\.example\/missing:2.*never pull/ })
  t.same(asked, ['localhost/here:1', 'registry.example/missing:2'])
  await writeFile(join(dir, 'Dockerfile'), 'FROM localhost/here:1\n')
  await checkBaseImages(join(dir, 'Dockerfile'), exists)
})

t.test('images named by COPY/ADD --from and RUN --mount from= must be local too; stages and stage numbers are not images', async t => {
  t.same(baseImagesOf([
    'FROM localhost/base:1 AS build',
    'COPY --from=build /out /out',
    'COPY --from=0 /out /again',
    'COPY --chown=1:1 --from=registry.example/tools:2 /bin/tool /tool',
    'RUN --mount=type=bind,from=registry.example/cache:3,target=/c ls /c',
    'RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=build,target=/b ls /b',
    'ADD --from=localhost/files:4 /a /a'
  ].join('\n')), ['localhost/base:1', 'registry.example/tools:2', 'registry.example/cache:3', 'localhost/files:4'])
  t.throws(() => baseImagesOf('FROM localhost/base:1\nCOPY --from=$IMG /a /a\n'), { code: 'IMAGE_BUILD_FAILED', message: /build argument/ })
})

t.test('a Dockerfile that asks for the network is refused naming the line', async t => {
  const refused = [
    'ADD https://127.0.0.1:8443/secret /secret',
    'ADD http://169.254.169.254/latest/meta-data/ /meta',
    'add --chmod=644 https://example.com/a.tgz /a.tgz',
    'ADD ["https://example.com/a", "/a"]',
    'ADD local.txt git@github.com:acme/app.git /src',
    'ADD ftp://example.com/x /x',
    'ONBUILD ADD https://example.com/x /x',
    'RUN --network=host wget http://example.com',
    'RUN --network=default true',
    'RUN --mount=type=cache,target=/c --network=host true',
    'RUN --security=insecure true'
  ]
  for (const line of refused) {
    t.throws(() => baseImagesOf(`FROM localhost/base:1\n${line}\n`), { code: 'IMAGE_BUILD_FAILED', message: /network|sandboxed/ }, line)
  }
  // the same with its continuation spelt per the escape directive, and hidden behind a continuation the engine does not make
  t.throws(() => baseImagesOf('# escape=`\nFROM localhost/base:1\nRUN echo `\n  hi\nRUN true \\\nADD https://example.com/x /x\n'), { code: 'IMAGE_BUILD_FAILED', message: /ADD of https:\/\/example\.com\/x/ })
  t.throws(() => baseImagesOf('# escape=x\nFROM localhost/base:1\n'), { code: 'IMAGE_BUILD_FAILED', message: /escape directive/ })
  // what stays allowed: context files, a local archive, no network
  t.same(baseImagesOf([
    '# syntax=docker/dockerfile:1',
    'FROM localhost/base:1',
    'ADD app.tar.gz /app/',
    'ADD ["a b.txt", "/dst/"]',
    'COPY https-notes.txt /notes.txt',
    'RUN --network=none echo https://example.com',
    'RUN --security=sandbox true'
  ].join('\n')), ['localhost/base:1'])
})

t.test('an oversized Dockerfile is refused whole rather than checked in part', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-from-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'Dockerfile'), `FROM localhost/here:1\n${'# padding\n'.repeat(110_000)}ADD https://example.com/x /x\n`)
  await t.rejects(checkBaseImages(join(dir, 'Dockerfile'), async () => true), { code: 'IMAGE_BUILD_FAILED', message: /larger than/ })
})
