// The under-load benchmark in smoke mode, as CI runs it: see smoke-support.ts.
import t from 'tap'
import { smokeTest } from './smoke-support.ts'

smokeTest(t, 'under-load')
