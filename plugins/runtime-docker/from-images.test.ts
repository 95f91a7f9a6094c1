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
