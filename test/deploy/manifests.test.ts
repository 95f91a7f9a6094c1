import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { X509Certificate } from 'node:crypto'
import { Ajv } from 'ajv'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1'
import { loadConfig } from '../../core/config/load.ts'
import { REPO_ROOT } from './podman.ts'

// The deployment files as a schema checker and the platform see them: compose.yaml
// against the Compose Specification's JSON schema, the Kubernetes manifests against
// the Kubernetes API schemas (kubernetes-models), every Switchyard config they carry
// through Switchyard's own loader, and the references between the pieces (service
// names, ports, mounted files, certificate host names) checked against each other.

const run = promisify(execFile)
const require = createRequire(import.meta.url)
type Json = Record<string, any> // parsed YAML, read field by field
const K8S_DIR = join(REPO_ROOT, 'deploy', 'kubernetes')

async function validSwitchyardConfig (t: Test, text: string, files: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-deploy-config-'))
  try {
    await writeFile(join(dir, 'switchyard.yaml'), text)
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content)
    const { config } = await loadConfig({ file: join(dir, 'switchyard.yaml'), env })
    t.ok(config.plugins.length > 0, 'Switchyard\'s loader accepts the config')
    for (const path of config.handlers) {
      const mod = await import(pathToFileURL(path).href) as { handlers: Record<string, (payload: unknown) => Promise<unknown>> }
      const result = await mod.handlers.checksum?.({ text: 'hello' }) as { sha256?: string } | undefined
      t.equal(result?.sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', `${path.split('/').at(-1)} runs its checksum handler`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

t.test('compose.yaml is valid against the Compose Specification and wires the split deployment', async t => {
  const text = await readFile(join(REPO_ROOT, 'compose.yaml'), 'utf8')
  const compose = parseYaml(text, { merge: true }) as Json
  // dclint ships the Compose Specification's schema; it does not export the file, so it is read from the package.
  const schemaPath = join(require.resolve('dclint/package.json'), '..', 'schemas', 'compose.schema.json')
  const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as Json
  // The file names draft-07 by its https address; Ajv knows the meta-schema by its canonical id (dclint does the same).
  schema.$schema = 'http://json-schema.org/draft-07/schema#'
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true })
  const validate = ajv.compile(schema)
  t.ok(validate(compose), `valid against the compose schema: ${ajv.errorsText(validate.errors)}`)

  const bad = structuredClone(compose)
  bad.services.worker.replica = 2 // a misspelt key
  t.notOk(validate(bad), 'the schema check does catch a mistake')

  const services = compose.services as Record<string, Json>
  t.same(Object.keys(services).sort(), ['admin', 'certs', 'gateway', 'postgres', 'redis', 'worker'])
  t.equal(services.worker?.deploy?.replicas, 2, 'two worker replicas')
  t.same(services.worker?.command?.slice(0, 1), ['worker'])
  t.same(services.admin?.command?.slice(0, 1), ['start'])
  t.same(services.gateway?.command, ['gateway'])
  t.equal(services.worker?.healthcheck?.disable, true, 'a worker has no listener to check')
  const target = services.gateway?.environment?.WORKER_ADMIN_GRPC_TARGET as string
  const [targetHost, targetPort] = target.split(':')
  t.ok(targetHost !== undefined && targetHost in services, `the gateway's target ${target} is a service`)
  t.equal(services.admin?.environment?.WORKER_ADMIN_GRPC_ADDR, `0.0.0.0:${targetPort}`, 'the admin service listens where the gateway dials')
  const certHosts = String(services.certs?.environment?.SWITCHYARD_CERT_HOSTS).split(',')
  t.ok(certHosts.includes(targetHost as string), 'the server certificate names the host the gateway dials')
  for (const name of ['admin', 'worker', 'gateway']) {
    t.ok((services[name]?.volumes as string[]).some(v => v.startsWith('certs:') && v.endsWith(':ro')), `${name} mounts the certificates read-only`)
    t.same(services[name]?.depends_on?.certs, { condition: 'service_completed_successfully' }, `${name} waits for the certificates`)
  }
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries((service.environment ?? {}) as Record<string, string>)) {
      if (key.startsWith('WORKER_ADMIN_TLS_') || key.startsWith('SWITCHYARD_CLIENT_')) t.match(value, /^\/var\/lib\/switchyard\/certs\/(ca|server|server-key|client|client-key)\.pem$/, `${name} ${key} is a file the certs service writes`)
    }
  }

  // The configs the services start with, through Switchyard's own loader.
  const handlers = await readFile(join(REPO_ROOT, 'deploy', 'compose', 'handlers.mjs'), 'utf8')
  for (const backend of ['postgres', 'redis']) {
    t.match(services.admin?.command, [String, String, `/etc/switchyard/\${SWITCHYARD_BACKEND:-postgres}.yaml`])
    await t.test(`deploy/compose/${backend}.yaml`, async t => {
      await validSwitchyardConfig(t, await readFile(join(REPO_ROOT, 'deploy', 'compose', `${backend}.yaml`), 'utf8'), { 'handlers.mjs': handlers })
    })
  }
})

interface Manifest { file: string, doc: Json }

async function kubernetesManifests (): Promise<Manifest[]> {
  const manifests: Manifest[] = []
  for (const file of (await readdir(K8S_DIR)).filter(name => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(await readFile(join(K8S_DIR, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`)
      manifests.push({ file, doc: doc.toJS() as Json })
    }
  }
  return manifests
}

function validateKubernetes (doc: Json): void {
  switch (`${doc.apiVersion}/${doc.kind}`) {
    case 'apps/v1/Deployment': new Deployment(doc as ConstructorParameters<typeof Deployment>[0]).validate(); break
    case 'v1/Service': new Service(doc as ConstructorParameters<typeof Service>[0]).validate(); break
    case 'v1/ConfigMap': new ConfigMap(doc as ConstructorParameters<typeof ConfigMap>[0]).validate(); break
    case 'v1/Secret': new Secret(doc as ConstructorParameters<typeof Secret>[0]).validate(); break
    default: throw new Error(`no schema check for ${doc.apiVersion} ${doc.kind}`)
  }
}

t.test('the Kubernetes manifests are valid against the API schemas and fit together', async t => {
  const kustomization = parseYaml(await readFile(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Json
  const manifests = await kubernetesManifests()
  t.same(manifests.map(m => m.file).filter((f, i, all) => all.indexOf(f) === i).sort(), [...kustomization.resources].sort(), 'kustomization lists every manifest file')

  // The Secret kustomize generates, from certificates made as the README says.
  const certDir = await mkdtemp(join(tmpdir(), 'switchyard-k8s-certs-'))
  t.teardown(() => rm(certDir, { recursive: true, force: true }))
  await run(process.execPath, [join(REPO_ROOT, 'core/bin/switchyard.js'), 'certs', '--dir', certDir], {
    env: { ...process.env, SWITCHYARD_CERT_HOSTS: 'switchyard-admin,switchyard-gateway' }, timeout: 60_000
  })
  const generator = (kustomization.secretGenerator as Json[])[0] as Json
  const secret: Json = { apiVersion: 'v1', kind: 'Secret', type: generator.type, metadata: { name: generator.name }, data: {} }
  for (const file of generator.files as string[]) secret.data[file.split('/').at(-1) as string] = (await readFile(join(certDir, file.split('/').at(-1) as string))).toString('base64')
  const all: Manifest[] = [...manifests, { file: 'kustomization.yaml (secretGenerator)', doc: secret }]

  for (const { file, doc } of all) {
    t.doesNotThrow(() => validateKubernetes(doc), `${file}: ${doc.kind} ${doc.metadata?.name} is valid`)
  }
  const bad = structuredClone(manifests.find(m => m.doc.kind === 'Deployment')?.doc as Json)
  bad.spec.template.spec.containers[0].ports = [{ containerPort: 'grpc' }]
  t.throws(() => validateKubernetes(bad), 'the schema check does catch a mistake')

  const byKind = (kind: string): Json[] => all.filter(m => m.doc.kind === kind).map(m => m.doc)
  const deployments = new Map(byKind('Deployment').map(d => [d.metadata.name as string, d]))
  t.same([...deployments.keys()].sort(), ['switchyard-admin', 'switchyard-gateway', 'switchyard-worker'])
  const container = (name: string): Json => deployments.get(name)?.spec.template.spec.containers[0] as Json
  const env = (name: string): Record<string, string> => Object.fromEntries((container(name).env as Json[]).filter(e => 'value' in e).map(e => [e.name, e.value]))
  t.same(container('switchyard-worker').args.slice(0, 1), ['worker'])
  t.same(container('switchyard-admin').args.slice(0, 1), ['start'])
  t.same(container('switchyard-gateway').args, ['gateway'])
  t.equal(deployments.get('switchyard-worker')?.spec.replicas, 2)

  for (const deployment of deployments.values()) {
    const pod = deployment.spec.template.spec as Json
    t.same(deployment.spec.selector.matchLabels, Object.fromEntries(Object.entries(deployment.spec.template.metadata.labels).filter(([k]) => k in deployment.spec.selector.matchLabels)), `${deployment.metadata.name}: the selector matches its pods`)
    t.equal(pod.securityContext.runAsNonRoot, true, `${deployment.metadata.name} runs as non-root`)
    t.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true)
    const volumes = new Map((pod.volumes as Json[]).map(v => [v.name as string, v]))
    for (const mount of pod.containers[0].volumeMounts as Json[]) t.ok(volumes.has(mount.name), `${deployment.metadata.name} mounts a volume it declares (${mount.name})`)
    for (const volume of volumes.values()) {
      if (volume.configMap !== undefined) t.ok(byKind('ConfigMap').some(c => c.metadata.name === volume.configMap.name), `ConfigMap ${volume.configMap.name} is in the set`)
      if (volume.secret !== undefined) t.ok(byKind('Secret').some(s => s.metadata.name === volume.secret.secretName), `Secret ${volume.secret.secretName} is in the set`)
    }
    const args = pod.containers[0].args as string[]
    const configArg = args[args.indexOf('--config') + 1]
    if (args.includes('--config')) {
      const mount = (pod.containers[0].volumeMounts as Json[]).find(m => configArg?.startsWith(`${m.mountPath}/`)) as Json
      const configMap = byKind('ConfigMap').find(c => c.metadata.name === volumes.get(mount.name)?.configMap?.name) as Json
      t.ok(configArg?.slice(mount.mountPath.length + 1) as string in configMap.data, `${deployment.metadata.name}: --config ${configArg} is a key of the ConfigMap`)
    }
    // Every certificate path names a key of the certificates Secret, where that Secret is mounted.
    for (const [key, value] of Object.entries(env(deployment.metadata.name))) {
      if (!key.startsWith('WORKER_ADMIN_TLS_') && !key.startsWith('SWITCHYARD_CLIENT_')) continue
      const mount = (pod.containers[0].volumeMounts as Json[]).find(m => value.startsWith(`${m.mountPath}/`)) as Json
      t.equal(volumes.get(mount?.name)?.secret?.secretName, 'switchyard-certs', `${key} is in the mounted certificates`)
      t.ok(value.slice(mount.mountPath.length + 1) in secret.data, `${key}: ${value} is a key of the Secret`)
    }
  }

  // Services select the pods that serve their ports.
  const services = new Map(byKind('Service').map(s => [s.metadata.name as string, s]))
  for (const service of services.values()) {
    const deployment = [...deployments.values()].find(d => Object.entries(service.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v)) as Json
    t.ok(deployment !== undefined, `Service ${service.metadata.name} selects a Deployment`)
    const ports = (deployment.spec.template.spec.containers[0].ports as Json[]).map(p => p.name)
    for (const port of service.spec.ports as Json[]) t.ok(ports.includes(port.targetPort), `Service ${service.metadata.name} port ${port.name} targets a container port`)
  }
  const [targetHost, targetPort] = env('switchyard-gateway').WORKER_ADMIN_GRPC_TARGET?.split(':') ?? []
  const adminService = services.get(targetHost as string)
  t.ok(adminService !== undefined, 'the gateway dials the admin Service')
  t.equal(String(adminService?.spec.ports[0].port), targetPort)
  t.equal(env('switchyard-admin').WORKER_ADMIN_GRPC_ADDR, `0.0.0.0:${targetPort}`)
  const serverCert = new X509Certificate(Buffer.from(secret.data['server.pem'], 'base64'))
  t.equal(serverCert.checkHost(targetHost as string), targetHost, 'the server certificate made as documented names the admin Service')

  const configMap = byKind('ConfigMap')[0] as Json
  await t.test('the ConfigMap\'s config', async t => {
    await validSwitchyardConfig(t, configMap.data['switchyard.yaml'], { 'handlers.mjs': configMap.data['handlers.mjs'] })
  })
})

t.test('the Dockerfile copies the manifest of every workspace before npm ci', async t => {
  const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8')
  const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
  const dirs: string[] = []
  for (const pattern of manifest.workspaces) {
    if (pattern.endsWith('/*')) dirs.push(...(await readdir(join(REPO_ROOT, pattern.slice(0, -2)))).map(name => `${pattern.slice(0, -2)}/${name}`))
    else dirs.push(pattern)
  }
  const ci = dockerfile.indexOf('RUN npm ci')
  for (const dir of dirs) {
    const copy = dockerfile.indexOf(`COPY ${dir}/package.json ${dir}/`)
    t.ok(copy !== -1 && copy < ci, `${dir}/package.json is copied before npm ci (or npm ci fails on the lockfile)`)
  }
})
