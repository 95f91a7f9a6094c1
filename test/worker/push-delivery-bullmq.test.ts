import t from 'tap'
import { runPushDeliverySuite } from './push-delivery-suite.ts'

await runPushDeliverySuite(t, 'bullmq')
