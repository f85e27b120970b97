# syntax=docker/dockerfile:1
# shardkv: the daemons (shardkv-controller, shardkv-server) and the CLIs (shardctl, shardkv) in
# one image, for Kubernetes (deploy/k8s/, docs/operations.md "Kubernetes"). From the
# repository root:
#
#   docker build -t shardkv:0.1.0 .
#
# Two stages: `build` installs every dependency and compiles dist/ (npm run build); `runtime`
# holds only the production dependencies, bin/ and dist/, and runs as the unprivileged user
# `node` (uid 1000). Kept in step with the README by test/unit/dockerfile.test.ts (every path
# copied exists after a build, the runtime user is not root, the commands named exist).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No dependency needs its install script (scripts/ensure-deps.mjs says why).
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY proto/ proto/
COPY common/ common/
COPY security/ security/
COPY raft/ raft/
COPY controller/ controller/
COPY shard-server/ shard-server/
COPY client/ client/
COPY bench/ bench/
COPY deploy/ deploy/
COPY bin/ bin/
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production SHARDKV_PROFILE=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/bin/ bin/
COPY --from=build /src/dist/ dist/
COPY LICENSE README.md ./
# Without scripts/build.mjs the bin/ wrappers run dist/ as it is (bin/lib/dist.sh).
USER node
EXPOSE 7000 9180
CMD ["bin/shardkv-server", "--help"]
