-- Optional tenant and correlation id on tasks (NewTask.tenant, NewTask.correlationId).
-- Nullable columns without defaults: adding them rewrites nothing, and a task without
-- them stores nothing more. The partial indexes hold only tasks that carry a value, so
-- an enqueue without one pays no index insert; lists filtered by either read them.
ALTER TABLE {{schema}}.tasks ADD COLUMN tenant text, ADD COLUMN correlation_id text;
CREATE INDEX tasks_tenant ON {{schema}}.tasks (tenant, id) WHERE tenant IS NOT NULL;
CREATE INDEX tasks_correlation ON {{schema}}.tasks (correlation_id, id) WHERE correlation_id IS NOT NULL;
