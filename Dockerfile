# syntax=docker/dockerfile:1
# Switchyard's image: `switchyard` is the entrypoint, so the command picks the role
# (start, worker, gateway, certs, or any admin command). Build it with
#   docker build -t switchyard .
# On hosts that cannot pull node:20-bookworm-slim, pass a local Node.js image of the
# same layout (scripts/container/base-image.sh builds one from the host's node):
#   podman build --build-arg BASE_IMAGE=localhost/switchyard-node-base:20.20.2 -t switchyard .
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, then the build -------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# The manifests first, so the dependency layer is reused while only sources change.
# Every workspace of package.json is listed (test/deploy checks that none is missing).
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY plugins/audit-file/package.json plugins/audit-file/
COPY plugins/backend-bullmq/package.json plugins/backend-bullmq/
COPY plugins/backend-postgres/package.json plugins/backend-postgres/
COPY plugins/backend-redis/package.json plugins/backend-redis/
COPY plugins/metrics/package.json plugins/metrics/
COPY plugins/artifact-store-fs/package.json plugins/artifact-store-fs/
COPY plugins/event-store-file/package.json plugins/event-store-file/
COPY plugins/job-source-git/package.json plugins/job-source-git/
COPY plugins/job-source-tarball/package.json plugins/job-source-tarball/
COPY plugins/admin-console/package.json plugins/admin-console/
COPY plugins/runtime-docker/package.json plugins/runtime-docker/
COPY bench/package.json bench/
# No install scripts: the prepare step (the build) needs the sources, and what the
# runtime loads of native code (msgpackr's) comes as prebuilt packages.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build
# Each package as npm pack publishes it (dist/, bin/, proto/) and the production
# dependencies only (no typescript, tap or test tooling, no benchmark), in /out.
RUN node scripts/container/stage-runtime.mjs /out \
 && mkdir -p /out/deploy/container && cp deploy/container/healthcheck.mjs /out/deploy/container/

# ---- runtime: the built packages and their production dependencies, as user node ----
FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title=switchyard \
      org.opencontainers.image.description="Switchyard job-processing platform: workers, admin service, HTTPS gateway"
# glibc's malloc: a fixed trim threshold (setting it also stops the mmap threshold from
# growing with the largest block freed), so the native memory a burst frees (an SSE
# fan-out's TLS records and socket writes) goes back to the system instead of staying
# resident. Measured in bench/README.md ("glibc's malloc after an SSE burst"): after two
# bursts to 300 streams a median 390 MB resident against 449 MB, CPU per delivery the same
# within the runs' noise (more minor page faults: freed memory is faulted in again).
# That was the embedded PGlite server; on the Postgres backend it made no difference.
ENV MALLOC_TRIM_THRESHOLD_=131072
ENV NODE_ENV=production \
    SWITCHYARD_DATA_DIR=/var/lib/switchyard \
    WORKER_ADMIN_HTTP_ADDR=0.0.0.0:8081 \
    WORKER_ADMIN_GRPC_ADDR=0.0.0.0:50052
WORKDIR /app
COPY --from=build /out /app
# The data directory (embedded database, development certificates, audit archive)
# belongs to the user the processes run as; the application files stay root's. The
# certs folder exists so a volume mounted there starts out owned by node too.
RUN mkdir -p /var/lib/switchyard/certs && chown -R node:node /var/lib/switchyard \
 && ln -s /app/core/bin/switchyard.js /usr/local/bin/switchyard
USER node
# The commit GET /admin/v1/health reports (the image has no .git to read it from);
# last, so a new commit reuses every layer above.
ARG SWITCHYARD_COMMIT=unknown
# buildah reuses a cached ENV layer when only a build argument changed; a RUN that
# reads the argument is keyed on its value, so the ENV below is not stale.
RUN echo "switchyard commit: ${SWITCHYARD_COMMIT}"
ENV SWITCHYARD_COMMIT=${SWITCHYARD_COMMIT}
VOLUME ["/var/lib/switchyard"]
EXPOSE 8081 50052
# Needs the admin listeners (start, gateway); a `worker` has none: turn the check off
# for it (compose: healthcheck.disable, Kubernetes: no probe) and watch its heartbeat
# in `GET /admin/v1/workers` instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/container/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/core/bin/switchyard.js"]
CMD ["start"]
