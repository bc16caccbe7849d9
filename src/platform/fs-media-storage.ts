import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, MediaStorage } from './media-storage.js';

/**
 * Objects as files under `dir`, a key's slashes as folders. A put writes to a draft file
 * of its own beside the object and renames it into place once complete, so a reader never
 * sees half a file and a refused upload leaves nothing under its key.
 */
export function createFsMediaStorage(dir: string): MediaStorage {
  const root = resolve(dir);
  const pathOf = (key: string) => {
    const path = resolve(root, key);
    // Keys are ours (songs/<uuid>/<uuid>), but a key must never name a file outside the folder.
    if (!path.startsWith(root + sep)) throw new Error(`media key ${JSON.stringify(key)} leaves MEDIA_DIR`);
    return path;
  };

  return {
    kind: 'fs',
    async put(key, body) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const draft = `${path}.${randomBytes(6).toString('hex')}.partial`;
      const file = createWriteStream(draft, { flags: 'wx' });
      try {
        await pipeline(body, file);
        await rename(draft, path);
      } catch (error) {
        await rm(draft, { force: true });
        throw error;
      }
      return file.bytesWritten;
    },
    async get(key, range?: ByteRange) {
      const path = pathOf(key);
      await stat(path);
      return createReadStream(path, range ? { start: range.start, end: range.end } : {});
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async head(key) {
      try {
        return { bytes: (await stat(pathOf(key))).size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    close() {},
  };
}

