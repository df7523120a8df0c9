# Two images from one build. The default (last) stage runs the control plane (ingester, planner,
# api; APP picks one). The `executor` stage is what runs on every node: node, the host tools it
# drives, and one bundled file; no node_modules, no NestJS, no PostgreSQL client.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY apps/ingester/package.json apps/ingester/
COPY apps/planner/package.json apps/planner/
COPY apps/executor/package.json apps/executor/
COPY apps/api/package.json apps/api/
COPY apps/cli/package.json apps/cli/
COPY libs/model/package.json libs/model/
COPY libs/planner-core/package.json libs/planner-core/
COPY libs/event-store/package.json libs/event-store/
COPY libs/messaging/package.json libs/messaging/
COPY libs/kube/package.json libs/kube/
COPY libs/dataplane/package.json libs/dataplane/
COPY libs/process/package.json libs/process/
COPY libs/service/package.json libs/service/
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim AS executor
# The executor programs the host: it needs iptables, iproute2 and conntrack.
RUN apt-get update && apt-get install -y --no-install-recommends iptables iproute2 conntrack && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/apps/executor/dist/netledger-executor.js /src/apps/executor/dist/netledger-executor.js.map ./
ENV NODE_ENV=production
ENTRYPOINT ["node", "--enable-source-maps", "netledger-executor.js"]

FROM node:24-bookworm-slim AS control-plane
WORKDIR /app
COPY --from=build /src /app
ENV NODE_ENV=production
ENTRYPOINT ["sh", "-c", "exec node apps/${APP:?set APP to ingester, planner or api}/dist/main.js \"$@\"", "--"]
