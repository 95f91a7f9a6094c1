import t from 'tap'
import { withCallDeadline } from './call.ts'

t.test('the call\'s own answer or failure passes through; a call past its deadline is DEADLINE_EXCEEDED', async (t) => {
  t.equal(await withCallDeadline(Promise.resolve('answer'), 1_000, 'GetOverview'), 'answer')
  const failure = new Error('the service failed')
  await t.rejects(withCallDeadline(Promise.reject(failure), 1_000, 'GetOverview'), failure)
  const started = Date.now()
  await t.rejects(withCallDeadline(new Promise(() => {}), 30, 'GetOverview'), { code: 'DEADLINE_EXCEEDED', message: 'GetOverview did not answer within 30 ms' })
  t.ok(Date.now() - started < 5_000)
  // a call that fails after its deadline passed changes nothing (and is not an unhandled rejection)
  let fail: (err: Error) => void = () => {}
  const late = new Promise<never>((_resolve, reject) => { fail = reject })
  await t.rejects(withCallDeadline(late, 10, 'GetOverview'), { code: 'DEADLINE_EXCEEDED' })
  fail(new Error('too late'))
  await new Promise(resolve => setTimeout(resolve, 20))
})
