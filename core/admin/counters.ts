import type { RequestOf, RpcName } from '../contract/rpcs.ts'
import { iso } from './views.ts'

// Admin action counters for the overview. They count what THIS admin service process
// answered since it started (like a Prometheus counter), which costs nothing per
// overview. Cluster-wide history is the audit log (ListAuditEvents / ExportAudit):
// counting it on every overview would cost O(audit events), not O(queues).

export class ActionCounters {
  private readonly since = Date.now()
  /** `since` as RFC 3339, made once: every overview shows it */
  private readonly sinceText = iso(this.since)
  private pauses = 0
  private resumes = 0
  private replays = 0
  private replayedTasks = 0
  private readonly byAction = new Map<string, number>()
  /** successful mutations answered by this service: lets cached reads notice local changes */
  changes = 0

  recordSuccess (rpc: RpcName, action: string, request: unknown, auditResult: Record<string, unknown> | undefined): void {
    this.changes++
    this.byAction.set(action, (this.byAction.get(action) ?? 0) + 1)
    if (rpc === 'PauseQueue') {
      if ((request as RequestOf<'PauseQueue'>).paused) this.pauses++
      else this.resumes++
    } else if (rpc === 'PauseDequeue') {
      this.pauses++
    } else if (rpc === 'ResumeDequeue') {
      this.resumes++
    } else if ((rpc === 'ReplayDLQ' || rpc === 'ReplayDLQByID') && auditResult?.dryRun !== true) {
      this.replays++
      this.replayedTasks += typeof auditResult?.count === 'number' ? auditResult.count : 0
    }
  }

  view (): { since: string, pauses: number, resumes: number, replays: number, replayedTasks: number, byAction: Record<string, number> } {
    return {
      since: this.sinceText,
      pauses: this.pauses,
      resumes: this.resumes,
      replays: this.replays,
      replayedTasks: this.replayedTasks,
      byAction: Object.fromEntries(this.byAction)
    }
  }
}
