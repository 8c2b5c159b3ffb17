# Multi-stage image of one chat node. Build: docker build -t chat-graphql .
# Run it against PostgreSQL and Redis (see docker-compose.yml):
#   docker run -e DATABASE_URL=… -e REDIS_URL=… -e JWT_SECRET=… -p 4000:4000 chat-graphql
# It listens on PORT (4000; `--build-arg PORT=…` moves the default and EXPOSE,
# `-e PORT=…` only the port: publish that one); the healthcheck follows PORT.

# 1. dependencies, the generated Prisma client (argon2 builds from source: python3, make, g++),
#    then src/ (with src/generated) compiled to dist/ (scripts/build.mjs: esbuild, ESM, source maps)
FROM node:22-bookworm AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN node scripts/build.mjs && npm prune --omit=dev

# 2. runtime: the installed tree and the compiled JavaScript; no TypeScript at run time
#    (prisma.config.ts and scripts/prisma.mjs are for `prisma migrate deploy` at start)
FROM node:22-bookworm-slim
WORKDIR /app
ARG PORT=4000
ENV NODE_ENV=production HOST=0.0.0.0 PORT=${PORT} ATTACHMENTS_DIR=/data/attachments
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
# What the node writes, owned by it: uploads (a named volume mounted there starts as a
# copy of this directory, so node owns it too), and the schema copy that
# scripts/prisma.mjs hands to `prisma migrate deploy` when a start finds migrations to apply.
RUN mkdir -p /data/attachments node_modules/.cache/prisma-migrate \
 && chown node:node /data/attachments node_modules/.cache/prisma-migrate
USER node
EXPOSE ${PORT}
# start period: a first start applies the migrations before /ready can answer 200
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/main.js"]
