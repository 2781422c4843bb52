# Doorman's production image: `docker build -t doorman .` (docker-compose.yml uses it).
# Build stage: all dependencies, TypeScript compiled to plain JavaScript in dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only (no TypeScript, tsx or Prisma CLI), the
# compiled code, the page templates and the migrations Doorman applies at start.
# Everything is fetched at build time: the container never reaches a registry when it starts.
FROM node:24-bookworm-slim AS runtime
# tini as PID 1 reaps zombies and forwards SIGTERM/SIGINT to Node, which drains and stops.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional too: npm keeps the Prisma CLI and TypeScript (optional peers of
# @prisma/client) otherwise, and the embedded PostgreSQL's binaries are optional as well:
# the image always runs on a server database (DATABASE_URL), see docker-compose.yml.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY views ./views
COPY locales ./locales
COPY prisma/migrations ./prisma/migrations
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
