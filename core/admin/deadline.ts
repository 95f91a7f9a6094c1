import { Errors } from '../errors.ts'

/** bounds work that is not a backend call (an audit sink) the same way backend calls are bounded */
export async function withDeadline<T> (work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Errors.backendTimeout(`${what} did not answer within ${timeoutMs} ms`, { details: { timeoutMs } })), timeoutMs)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}
