import { isSwitchyardError, withCallDeadline, type AdminService, type CallContext } from '@switchyard/core'

// What the admin service behind the console serves (backend, read-only, approval), as
// GET /api/session reports it. In `switchyard start` that is this process's own config.
// Behind `switchyard gateway` the service is remote, so its own GetSession answer is
// the truth; it is asked at most once per CACHE_MS, with the caller's identity.

export interface ServiceInfo {
  backend: string
  /** admin.readOnly of the serving process: it refuses mutations */
  adminReadOnly: boolean
  /** admin.requireApproval of the serving process: mutations need X-Admin-Approval */
  approvalRequired: boolean
}

const CACHE_MS = 30_000
const ASK_TIMEOUT_MS = 5_000

export interface RemoteServiceInfoOptions {
  admin: AdminService
  /** host:port of the remote admin service, named in what the console shows */
  target: string
  now?: () => number
  onError?: (err: unknown) => void
}

/** The remote service's answer, cached; on failure the last answer, or a line saying the service is unreachable. */
export class RemoteServiceInfo {
  private known: ServiceInfo | null = null
  private askedAt = -Infinity
  private asking: Promise<ServiceInfo> | null = null
  private readonly now: () => number

  constructor (private readonly options: RemoteServiceInfoOptions) {
    this.now = options.now ?? Date.now
  }

  async current (ctx: CallContext): Promise<ServiceInfo> {
    if (this.known !== null && this.now() - this.askedAt < CACHE_MS) return this.known
    this.asking ??= this.ask(ctx).finally(() => { this.asking = null })
    return await this.asking
  }

  private async ask (ctx: CallContext): Promise<ServiceInfo> {
    try {
      const session = await withCallDeadline(this.options.admin.GetSession({}, ctx), ASK_TIMEOUT_MS, 'GetSession')
      this.known = {
        backend: `${session.backend} (remote admin service at ${this.options.target})`,
        adminReadOnly: session.readOnly,
        approvalRequired: session.approvalRequired
      }
      this.askedAt = this.now()
      return this.known
    } catch (err) {
      this.options.onError?.(err)
      if (this.known !== null) return this.known
      const reason = isSwitchyardError(err) ? err.code : 'no answer'
      return { backend: `remote admin service at ${this.options.target} (not answering: ${reason})`, adminReadOnly: false, approvalRequired: false }
    }
  }
}
