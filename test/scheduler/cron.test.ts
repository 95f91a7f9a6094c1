// Cron specs and time zones: validation names the field and the value; DST follows
// croner (a daily 02:30 in Europe/Berlin fires once on both transition days).
import t from 'tap'
import { compileCron } from '../../core/scheduler/index.ts'

t.test('bad specs and time zones are refused with the field and the value', async t => {
  t.throws(() => compileCron('61 * * * *'), { code: 'VALIDATION_FAILED', details: { field: 'spec', value: '61 * * * *' }, message: /spec: "61 \* \* \* \*" is not a valid cron expression.*minute: 61/ })
  t.throws(() => compileCron('* * *'), { code: 'VALIDATION_FAILED', details: { field: 'spec' }, message: /5 fields/ })
  t.throws(() => compileCron('2031-01-01T00:00:00'), { code: 'VALIDATION_FAILED', details: { field: 'spec' } }, 'a one-off date is not a schedule')
  t.throws(() => compileCron('* * * * *', 'Mars/Olympus'), { code: 'VALIDATION_FAILED', details: { field: 'timezone', value: 'Mars/Olympus' }, message: /Mars\/Olympus/ })
  t.throws(() => compileCron('* * * * *', 'UTC', { spec: 'schedules[0].spec' }) && compileCron('bad', 'UTC', { spec: 'schedules[0].spec' }), { details: { field: 'schedules[0].spec' } } as unknown as Error, 'the field path is the caller\'s')
  t.equal(compileCron('@hourly').next(Date.parse('2031-01-01T00:10:00Z')), Date.parse('2031-01-01T01:00:00Z'), 'nicknames work')
})

t.test('seconds specs, exclusive next, and bounded enumeration', async t => {
  const plan = compileCron('*/10 * * * * *')
  const base = Date.parse('2031-01-01T00:00:00Z')
  t.equal(plan.next(base), base + 10_000, 'next is strictly after the reference')
  t.same(plan.dueBetween(base, base + 30_000).instants, [base + 10_000, base + 20_000, base + 30_000], '(after, until]')
  const capped = plan.dueBetween(base, base + 3600_000, 5)
  t.equal(capped.instants.length, 5)
  t.equal(capped.more, true, 'more when capped')
  t.equal(plan.previous(base + 25_000), base + 20_000)
})

t.test('DST: a daily 02:30 in Europe/Berlin fires once on both transition days', async t => {
  const plan = compileCron('30 2 * * *', 'Europe/Berlin')
  const fires = (fromIso: string, toIso: string): string[] => plan.dueBetween(Date.parse(fromIso), Date.parse(toIso)).instants.map(ms => new Date(ms).toISOString())
  // 2031-03-30: clocks go 02:00 → 03:00 CEST; 02:30 does not exist, croner runs at the first valid time after the gap
  t.same(fires('2031-03-29T12:00:00Z', '2031-03-31T12:00:00Z'), ['2031-03-30T01:00:00.000Z', '2031-03-31T00:30:00.000Z'], 'spring forward: once, at 03:00 CEST')
  // 2031-10-26: 03:00 CEST → 02:00 CET; 02:30 happens twice, the job runs at the first one only
  t.same(fires('2031-10-25T12:00:00Z', '2031-10-27T12:00:00Z'), ['2031-10-26T00:30:00.000Z', '2031-10-27T01:30:00.000Z'], 'fall back: once, at the first 02:30 (CEST)')
  const utc = compileCron('30 2 * * *')
  t.equal(new Date(utc.next(Date.parse('2031-03-30T00:00:00Z')) as number).toISOString(), '2031-03-30T02:30:00.000Z', 'UTC is the default zone')
})
