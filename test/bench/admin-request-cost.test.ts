// The admin-request-cost benchmark in smoke mode, as CI runs it: see smoke-support.ts.
import t from 'tap'
import { smokeTest } from './smoke-support.ts'

smokeTest(t, 'admin-request-cost')
