// The job definition form: the source fields follow the chosen kind (git_tag: repo and
// tag; tarball_url: URL and SHA-256; tarball_path: path and SHA-256); the rest is common.
import { useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import type { Job } from '../types.ts'
import { ErrorBox, Modal } from '../ui.tsx'

const SOURCES = ['git_tag', 'tarball_url', 'tarball_path'] as const

function lines (text: string): string[] { return text.split('\n').map(l => l.trim()).filter(l => l !== '') }
function numberOrUndefined (text: string): number | undefined { return text.trim() === '' ? undefined : Number(text) }

export function JobForm ({ existing, onClose }: { existing: Job | null, onClose: (saved?: string) => void }): ReactNode {
  const [form, setForm] = useState({
    name: existing?.name ?? '',
    description: existing?.description ?? '',
    source: existing?.source ?? 'git_tag',
    repo: existing?.repo ?? '',
    tag: existing?.tag ?? '',
    tarballUrl: existing?.tarballUrl ?? '',
    tarballPath: existing?.tarballPath ?? '',
    tarballSha256: existing?.tarballSha256 ?? '',
    path: existing?.path ?? '.',
    dockerfile: existing?.dockerfile ?? 'Dockerfile',
    command: existing?.command.join('\n') ?? '',
    env: existing?.env.join('\n') ?? '',
    queue: existing?.queue ?? '',
    retries: existing === null ? '' : String(existing.retries),
    timeoutSeconds: existing === null ? '' : String(existing.timeoutSeconds),
    memoryBytes: existing === null ? '' : String(existing.resources.memoryBytes),
    cpus: existing === null ? '' : String(existing.resources.cpus),
    pids: existing === null ? '' : String(existing.resources.pids),
    network: existing?.network ?? ''
  })
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const field = (key: keyof typeof form, label: string, props: { required?: boolean, placeholder?: string, type?: string, step?: string } = {}): ReactNode => (
    <label>{label} <input name={key} value={form[key]} onChange={e => setForm({ ...form, [key]: e.target.value })} {...props} /></label>
  )
  const submit = (): void => {
    const resources = { memoryBytes: numberOrUndefined(form.memoryBytes), cpus: numberOrUndefined(form.cpus), pids: numberOrUndefined(form.pids) }
    const body = {
      name: form.name,
      description: form.description,
      source: form.source,
      ...(form.source === 'git_tag' ? { repo: form.repo, tag: form.tag } : {}),
      ...(form.source === 'tarball_url' ? { tarballUrl: form.tarballUrl, tarballSha256: form.tarballSha256 } : {}),
      ...(form.source === 'tarball_path' ? { tarballPath: form.tarballPath, tarballSha256: form.tarballSha256 } : {}),
      path: form.path,
      dockerfile: form.dockerfile,
      command: lines(form.command),
      env: lines(form.env),
      queue: form.queue,
      retries: numberOrUndefined(form.retries),
      timeoutSeconds: numberOrUndefined(form.timeoutSeconds),
      ...(Object.values(resources).some(v => v !== undefined) ? { resources: Object.fromEntries(Object.entries(resources).filter(([, v]) => v !== undefined)) } : {}),
      network: form.network
    }
    setBusy(true)
    call('UpsertJob', body).then(() => onClose(form.name), (e: unknown) => { setError(e); setBusy(false) })
  }
  return (
    <Modal title={existing === null ? 'New job' : `Edit job ${existing.name}`} onClose={() => onClose()}>
      <form className="stack" onSubmit={e => { e.preventDefault(); submit() }}>
        <label>Name <input name="name" value={form.name} disabled={existing !== null} onChange={e => setForm({ ...form, name: e.target.value })} required /></label>
        {field('description', 'Description')}
        <label>Source <select name="source" value={form.source} onChange={e => setForm({ ...form, source: e.target.value as Job['source'] })}>{SOURCES.map(s => <option key={s}>{s}</option>)}</select></label>
        {form.source === 'git_tag' && <div className="row">{field('repo', 'Repository', { required: true, placeholder: 'https://host/repo.git' })}{field('tag', 'Tag', { required: true })}</div>}
        {form.source === 'tarball_url' && <div className="row">{field('tarballUrl', 'Archive URL', { required: true, placeholder: 'https://…/source.tar.gz' })}{field('tarballSha256', 'SHA-256', { required: true })}</div>}
        {form.source === 'tarball_path' && <div className="row">{field('tarballPath', 'Archive path', { required: true })}{field('tarballSha256', 'SHA-256', { required: true })}</div>}
        <div className="row">{field('path', 'Build context')}{field('dockerfile', 'Dockerfile')}</div>
        <label>Command (one argument a line) <textarea name="command" rows={2} value={form.command} onChange={e => setForm({ ...form, command: e.target.value })} /></label>
        <label>Environment (NAME=value a line) <textarea name="env" rows={2} value={form.env} onChange={e => setForm({ ...form, env: e.target.value })} /></label>
        <div className="row">{field('queue', 'Queue', { placeholder: 'default' })}{field('retries', 'Retries', { type: 'number' })}{field('timeoutSeconds', 'Timeout (s)', { type: 'number' })}</div>
        <div className="row">{field('memoryBytes', 'Memory (bytes)', { type: 'number' })}{field('cpus', 'CPUs', { type: 'number', step: 'any' })}{field('pids', 'Process limit', { type: 'number' })}{field('network', 'Network', { placeholder: 'default' })}</div>
        <ErrorBox error={error} />
        <div className="actions"><button type="button" onClick={() => onClose()}>Cancel</button><button type="submit" className="primary" disabled={busy}>Save job</button></div>
      </form>
    </Modal>
  )
}
