import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { createDatabase, deleteKeys } from './app.js';
import { startServerProcess, type ServerProcess } from './process.js';

export interface Cluster {
  db: Database;
  /** Environment shared by every instance: the database, Redis under a prefix of its own, the JWT secret. */
  env: Record<string, string>;
  instances: ServerProcess[];
  /** Publishes on the instances' Redis pub/sub, as an instance would. */
  pubsub: { publish(topic: string, message: string): Promise<unknown> };
  /** Starts one more instance with `env` added. */
  start(env?: Record<string, string>): Promise<ServerProcess>;
  /** Stops every instance, drops the database and deletes the Redis keys. */
  stop(): Promise<void>;
}

/**
 * Several server processes on one fresh PostgreSQL database and one Redis, as instances
 * behind a load balancer run; the test reaches the database directly for fixtures.
 */
export async function startCluster(env: Record<string, string>): Promise<Cluster> {
  const database = await createDatabase(process.env.DATABASE_URL!);
  const handle = await openDatabase({ kind: 'postgres', url: database.url, poolMax: 4, statementTimeoutMs: 10_000, connectTimeoutS: 5 });
  await migrate(handle);
  const prefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
  const shared = {
    DATABASE_URL: database.url,
    REDIS_URL: process.env.REDIS_URL!,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...env,
  };
  const instances: ServerProcess[] = [];
  const publisher = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
  return {
    db: handle.db,
    pubsub: { publish: async (topic, message) => publisher.publish(prefix + topic, message) },
    env: shared,
    instances,
    async start(extra = {}) {
      const instance = await startServerProcess({ ...shared, ...extra });
      instances.push(instance);
      return instance;
    },
    async stop() {
      await Promise.all(instances.map((i) => i.stop()));
      publisher.disconnect();
      await handle.close();
      await database.drop();
      await deleteKeys(process.env.REDIS_URL!, prefix);
    },
  };
}

