import t from 'tap'
import { runWorkerSuite } from './worker-suite.ts'

runWorkerSuite(t, 'bullmq')
