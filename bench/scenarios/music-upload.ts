import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, like } from 'drizzle-orm';
import { clubs, songs, users } from '../../src/db/schema.js';
import { wavStream } from '../../test/support/audio.js';
import { putFile } from '../../test/support/upload.js';
import { insertClub, insertUser } from '../fixtures.js';
import { graphql } from '../http.js';
import { sampleHeap, sampleMemory } from '../memory.js';
import type { RunContext, Scenario, Summary } from '../scenario.js';

// Eight managers upload a 40 MiB WAV file each at the same moment. Each body streams
// through the server (sniffed, hashed, measured by music-metadata) into media storage:
// the server's resident memory should rise by stream buffers, not by the files — at most
// 32 MiB for the 320 MiB in flight. No time is asserted; the figure is the RSS rise.
const TICKET = /* GraphQL */ `mutation($s: ID!, $b: Int!) { requestSongUpload(songId: $s, contentType: "audio/wav", bytes: $b) { url } }`;
const UPLOADS = 8;
const FILE_BYTES = 40 * 1024 * 1024;
const BOUND_BYTES = 32 * 1024 * 1024;
const WARM_UP_BYTES = 2 * 1024 * 1024;
const MIB = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;

export const musicUpload: Scenario = {
  name: 'music-upload',

  async prepare({ db, tag, sign }) {
    const manager = await insertUser(db, `${tag}-music-manager`, 'Bench manager');
    const club = await insertClub(db, `${tag}-music-club`, 'Bench music club');
    const rows = await db
      .insert(songs)
      .values(Array.from({ length: UPLOADS + 1 }, (_, i) => ({ clubId: club.id, title: `Bench track ${i}`, artist: 'Bench' })))
      .returning();
    const token = await sign({ subject: manager.subject, roles: ['manager'], clubIds: [club.id] });
    return {
      kind: 'run',
      run: (ctx) => run(ctx, { token, songIds: rows.map((s) => s.id) }),
      async remove() {
        await db.delete(clubs).where(eq(clubs.id, club.id));
        await db.delete(users).where(like(users.subject, `${tag}-music-%`));
      },
    };
  },
};

async function run(ctx: RunContext, { token, songIds }: { token: string; songIds: string[] }): Promise<Summary> {
  const mediaDir = mkdtempSync(join(tmpdir(), 'nightgraph-bench-media-'));
  const server = await ctx.startServer({ MEDIA_DIR: mediaDir });
  try {
    const upload = async (songId: string, bytes: number) => {
      const { requestSongUpload } = await graphql<{ requestSongUpload: { url: string } }>(server.url, token, TICKET, { s: songId, b: bytes }, REQUEST_TIMEOUT_MS);
      const url = requestSongUpload.url;
      const answer = await putFile(url, wavStream(bytes), { 'content-type': 'audio/wav', 'content-length': bytes });
      if (answer.status !== 201 || answer.body.bytes !== bytes) throw new Error(`music-upload: ${answer.status} ${JSON.stringify(answer.body)}`);
    };
    // One upload first, so the rise below is the uploads' and not the code paths' first use.
    await upload(songIds[UPLOADS]!, WARM_UP_BYTES);
    const memory = sampleMemory({ pid: server.pid, url: server.url });
    const heap = sampleHeap(server.url);
    const before = await memory.now();
    const heapBefore = await heap.now();
    memory.start();
    heap.start();
    const startedAt = performance.now();
    await Promise.all(songIds.slice(0, UPLOADS).map((songId) => upload(songId, FILE_BYTES)));
    const seconds = (performance.now() - startedAt) / 1000;
    const peak = await memory.stop();
    const heapPeak = await heap.stop();
    const rise = peak - before;
    const mib = (bytes: number) => (bytes / MIB).toFixed(1);
    const lines = [
      `${UPLOADS} parallel uploads of ${FILE_BYTES / MIB} MiB: RSS ${mib(before)} → ${mib(peak)} MiB peak, ` +
        `rise ${mib(rise)} MiB (bound ${BOUND_BYTES / MIB} MiB: ${rise <= BOUND_BYTES ? 'within' : 'exceeded'}), all stored in ${seconds.toFixed(1)} s`,
      `  V8 heap used ${mib(heapBefore.heapUsed)} → ${mib(heapPeak.heapUsed)} MiB peak; external (Buffers) ${mib(heapBefore.external)} → ${mib(heapPeak.external)} MiB peak`,
    ];
    for (const line of lines) ctx.log(line);
    return {
      lines,
      fields: {
        uploads: UPLOADS,
        fileBytes: FILE_BYTES,
        rssBeforeBytes: before,
        rssPeakBytes: peak,
        rssRiseBytes: rise,
        boundBytes: BOUND_BYTES,
        seconds,
        heapUsedBeforeBytes: heapBefore.heapUsed,
        heapUsedPeakBytes: heapPeak.heapUsed,
        externalBeforeBytes: heapBefore.external,
        externalPeakBytes: heapPeak.external,
      },
    };
  } finally {
    await server.stop();
    rmSync(mediaDir, { recursive: true, force: true });
  }
}
