# Build: install everything, compile the server to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Run: production dependencies, the compiled server and what it reads at run time
# (schema.graphql, the migrations, the trusted-documents manifest). No TypeScript loader.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schema.graphql ./
COPY drizzle ./drizzle
COPY src/__generated__/client/persisted-documents.json ./src/__generated__/client/
# DATA_DIR and MEDIA_DIR (./.data) belong to the user the server runs as, not root.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:4000/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# node itself is PID 1 and takes SIGTERM (docker stop, Kubernetes): it drains within
# SHUTDOWN_TIMEOUT_SECONDS and exits. `docker run --init` (or `init: true`) adds an init
# that reaps zombies too; the server spawns no processes but its own workers.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
