export { createAdminService } from './service.ts'
export { AdminOptionsInvalid } from './guards.ts'
export type { AdminInfo, AdminOptions, AdminService, AdminServiceDeps, AuditSink, CallContext, EventStream, RunningAdminService } from './types.ts'
