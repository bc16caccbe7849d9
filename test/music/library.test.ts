import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavFile, jpegFile, wavStream } from '../support/audio.js';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startLocalS3, type LocalS3 } from '../support/s3.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { putFile } from '../support/upload.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const TICKET = 'mutation($song: ID!, $type: String!, $bytes: Int!) { requestSongUpload(songId: $song, contentType: $type, bytes: $bytes) { url expiresAt } }';
const AUDIO = 'query($slug: String!) { club(slug: $slug) { songs(first: 50) { edges { node { id title audio { url contentType bytes durationSeconds sha256 uploadedAt } } } } } }';

interface Storage {
  name: string;
  /** The server's environment for this storage. */
  env(): Record<string, string>;
  /** Every object key in the storage, drafts included. */
  keys(app: TestApp): Promise<string[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => `${e.parentPath.slice(dir.length + 1)}/${e.name}`)
      .sort();
  } catch {
    return [];
  }
}

const filesystem: Storage = {
  name: 'the filesystem',
  env: () => ({}),
  keys: async (app) => filesUnder((app.config.media.storage as { dir: string }).dir),
  start: async () => {},
  stop: async () => {},
};

let s3: LocalS3 | undefined;
const objectStorage: Storage = {
  name: 'S3 (a local s3rver)',
  env: () => s3!.env,
  keys: async () => s3!.keys(),
  start: async () => void (s3 = await startLocalS3()),
  stop: async () => s3?.stop(),
};

describe.each([filesystem, objectStorage])('the music library on $name', (storage) => {
  let app: TestApp;
  let manager: string;
  let otherManager: string;
  let host: string;
  let guest: string;
  let club: { id: string; slug: string };
  let songIds: Record<string, string>;

  async function ticketFor(songId: string, bytes: number, token = manager, contentType = 'audio/wav') {
    const answer = await graphql(app.url, TICKET, { token, variables: { song: songId, type: contentType, bytes } });
    return { answer, url: answer.data?.requestSongUpload?.url as string | undefined };
  }

  async function upload(songId: string, file: Buffer) {
    const { url } = await ticketFor(songId, file.length);
    return putFile(url!, file, { 'content-type': 'audio/wav' });
  }

  async function audioByTitle(token: string | undefined) {
    const answer = await graphql(app.url, AUDIO, { token, variables: { slug: club.slug } });
    const edges = (answer.data?.club?.songs?.edges ?? []) as { node: { title: string; audio: Record<string, any> | null } }[];
    return { answer, byTitle: Object.fromEntries(edges.map((e) => [e.node.title, e.node.audio])) };
  }

  beforeAll(async () => {
    await storage.start();
    app = await startTestApp({ ...storage.env(), MEDIA_MAX_BYTES: String(2 * 1024 * 1024) });
    const fx = fixtures(app.db);
    club = await fx.club();
    const other = await fx.club();
    const songs = await fx.songs(club.id, ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'On Offer']);
    songIds = Object.fromEntries(songs.map((s) => [s.title, s.id]));
    await fx.voteSession(club.id, [songIds['On Offer']!]);
    manager = await app.token({ subject: 'music-manager', roles: ['manager'], clubIds: [club.id] });
    otherManager = await app.token({ subject: 'music-other-manager', roles: ['manager'], clubIds: [other.id] });
    host = await app.token({ subject: 'music-host', roles: ['host'], clubIds: [club.id] });
    guest = await app.token({ subject: 'music-guest' });
  });
  afterAll(async () => {
    await app?.stop();
    await storage.stop();
  });

  it('takes a WAV file through its ticket and answers what it read from the stream', async () => {
    const file = wavFile(2);
    const put = await upload(songIds.Alpha!, file);
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ songId: songIds.Alpha, contentType: 'audio/wav', bytes: file.length, sha256: sha256(file) });

    const { byTitle } = await audioByTitle(manager);
    expect(byTitle.Alpha).toMatchObject({ contentType: 'audio/wav', bytes: file.length, sha256: sha256(file) });
    expect(byTitle.Alpha!.durationSeconds).toBeCloseTo(2, 3);
    expect(byTitle.Bravo).toBeNull();
    expect(await storage.keys(app)).toEqual([expect.stringMatching(new RegExp(`^songs/${songIds.Alpha}/[0-9a-f-]{36}$`))]);
  });

  it('replaces a file, and the old object is gone once the new one is the song\'s', async () => {
    const before = await storage.keys(app);
    const file = wavFile(3);
    expect((await upload(songIds.Alpha!, file)).status).toBe(201);
    const after = await storage.keys(app);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    const { byTitle } = await audioByTitle(manager);
    expect(byTitle.Alpha).toMatchObject({ sha256: sha256(file), bytes: file.length });
    expect(byTitle.Alpha!.durationSeconds).toBeCloseTo(3, 3);
  });

  it('plays the file whole and by ranges, with its sha256 as ETag', async () => {
    const file = wavFile(1.5);
    expect((await upload(songIds.Bravo!, file)).status).toBe(201);
    const { url } = (await audioByTitle(host)).byTitle.Bravo!;
    expect(url).toMatch(/\/songs\/[0-9a-f-]{36}\/audio\?expires=\d+&signature=/);

    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(file.length));
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-type')).toBe('audio/wav');
    expect(whole.headers.get('etag')).toBe(`"${sha256(file)}"`);
    expect(Buffer.from(await whole.arrayBuffer()).equals(file)).toBe(true);

    const middle = await fetch(url, { headers: { range: 'bytes=100-1123' } });
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe(`bytes 100-1123/${file.length}`);
    expect(middle.headers.get('content-length')).toBe('1024');
    expect(Buffer.from(await middle.arrayBuffer()).equals(file.subarray(100, 1124))).toBe(true);

    const tail = await fetch(url, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(file.subarray(file.length - 10))).toBe(true);
    const open = await fetch(url, { headers: { range: `bytes=${file.length - 3}-` } });
    expect(Buffer.from(await open.arrayBuffer()).equals(file.subarray(file.length - 3))).toBe(true);

    const past = await fetch(url, { headers: { range: `bytes=${file.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${file.length}`);
    expect(await past.json()).toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });

    const unchanged = await fetch(url, { headers: { 'if-none-match': `"${sha256(file)}"` } });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(file.length));
  });

  it('plays a song on offer from a plain URL to anyone, and any other song only from a signed one', async () => {
    const file = wavFile(1);
    expect((await upload(songIds['On Offer']!, file)).status).toBe(201);
    const offered = (await audioByTitle(undefined)).byTitle['On Offer']!;
    expect(offered.url).toMatch(/\/songs\/[0-9a-f-]{36}\/audio$/);
    const played = await fetch(offered.url);
    expect(played.status).toBe(200);
    expect(Buffer.from(await played.arrayBuffer()).equals(file)).toBe(true);

    const signed = (await audioByTitle(manager)).byTitle.Bravo!.url as string;
    const plain = signed.split('?')[0]!;
    const refused = await fetch(plain);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'FORBIDDEN' });
    const tampered = signed.replace(/expires=(\d+)/, (_m, s: string) => `expires=${Number(s) + 3600}`);
    expect((await fetch(tampered)).status).toBe(403);
  });

  it("keeps a song's audio from guests and from anyone but the club's staff, unless it is on offer", async () => {
    for (const token of [undefined, guest, otherManager]) {
      const { answer, byTitle } = await audioByTitle(token);
      expect(byTitle.Alpha).toBeNull();
      expect(byTitle['On Offer']).not.toBeNull();
      expect(codes(answer)).toContain('FORBIDDEN');
      expect(answer.errors!.every((e) => e.path?.at(-1) === 'audio')).toBe(true);
    }
  });

  it('lets only managers of the song\'s club (and admins) ask for an upload ticket', async () => {
    expect(codes((await ticketFor(songIds.Charlie!, 1000, otherManager)).answer)).toEqual(['FORBIDDEN']);
    expect(codes((await ticketFor(songIds.Charlie!, 1000, host)).answer)).toEqual(['FORBIDDEN']);
    expect(codes((await ticketFor(songIds.Charlie!, 1000, guest)).answer)).toEqual(['FORBIDDEN']);
    expect(codes((await graphql(app.url, TICKET, { variables: { song: songIds.Charlie, type: 'audio/wav', bytes: 1000 } })))).toEqual(['UNAUTHENTICATED']);
    const admin = await app.token({ subject: 'music-admin', roles: ['admin'] });
    expect((await ticketFor(songIds.Charlie!, 1000, admin)).url).toMatch(/\/uploads\/[0-9a-f-]{36}\.[\w-]+$/);
    expect(codes((await ticketFor(songIds.Charlie!, 1000, manager, 'image/jpeg')).answer)).toEqual(['BAD_USER_INPUT']);
    expect(codes((await ticketFor(songIds.Charlie!, 3 * 1024 * 1024)).answer)).toEqual(['BAD_USER_INPUT']);
    expect(codes((await ticketFor('00000000-0000-0000-0000-000000000000', 1000)).answer)).toEqual(['NOT_FOUND']);
  });

  it('refuses a JPEG named audio/mpeg and keeps nothing of it', async () => {
    const before = await storage.keys(app);
    const image = jpegFile(64 * 1024);
    const { url } = await ticketFor(songIds.Charlie!, image.length, manager, 'audio/mpeg');
    const put = await putFile(url!, image, { 'content-type': 'audio/mpeg' });
    expect(put.status).toBe(415);
    expect(put.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', error: expect.stringContaining('image/jpeg') });
    expect(await storage.keys(app)).toEqual(before);
    expect((await audioByTitle(manager)).byTitle.Charlie).toBeNull();
  });

  it('refuses a body that streams past its ticket with 413, leaving nothing in storage or the database', async () => {
    const before = await storage.keys(app);
    const { url } = await ticketFor(songIds.Delta!, 100_000);
    // No Content-Length (chunked): the size is found out while the bytes stream in.
    const put = await putFile(url!, wavStream(1_500_000));
    expect(put.status).toBe(413);
    expect(put.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await storage.keys(app)).toEqual(before);
    expect((await audioByTitle(manager)).byTitle.Delta).toBeNull();

    // A Content-Length past the ticket is refused before a byte is read.
    const second = await ticketFor(songIds.Delta!, 100_000);
    expect((await putFile(second.url!, wavFile(10))).status).toBe(413);
    // A body that ends short of its ticket is no file.
    const third = await ticketFor(songIds.Delta!, 100_000);
    expect((await putFile(third.url!, wavStream(50_000))).body).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await storage.keys(app)).toEqual(before);
  });

  it('takes a ticket once, and no ticket it did not sign', async () => {
    const file = wavFile(0.5);
    const { url } = await ticketFor(songIds.Echo!, file.length);
    expect((await putFile(url!, file)).status).toBe(201);
    const again = await putFile(url!, file);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'TICKET_USED' });
    const forged = await putFile(url!.replace(/\.[\w-]+$/, '.forged'), file);
    expect(forged).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
  });

  it('replaces in commit order when two uploads of one song race, and keeps only the file that won', async () => {
    const files = [wavFile(0.5), wavFile(0.75)];
    const tickets = await Promise.all(files.map((f) => ticketFor(songIds.Echo!, f.length)));
    const answers = await Promise.all(files.map((f, i) => putFile(tickets[i]!.url!, f)));
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    const kept = await storage.keys(app);
    const echoKeys = kept.filter((k) => k.startsWith(`songs/${songIds.Echo}/`));
    expect(echoKeys).toHaveLength(1);
    const { byTitle } = await audioByTitle(manager);
    expect(files.map(sha256)).toContain(byTitle.Echo!.sha256);
  });

  it('leaves nothing behind when the uploader goes away mid-file', async () => {
    const before = await storage.keys(app);
    const bytes = 1_000_000;
    const { url } = await ticketFor(songIds.Delta!, bytes);
    const body = wavStream(bytes, 16 * 1024);
    let sent = 0;
    const cut = new Promise<void>((resolve) => {
      const req = request(url!, { method: 'PUT', headers: { 'content-length': bytes } });
      req.on('error', () => resolve());
      body.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > 300_000) {
          body.pause();
          req.destroy();
          resolve();
        } else req.write(chunk);
      });
    });
    await cut;
    // The server notices the closed socket on its own time: wait until its draft is gone.
    for (let i = 0; i < 100 && (await storage.keys(app)).length !== before.length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await storage.keys(app)).toEqual(before);
    expect((await audioByTitle(manager)).byTitle.Delta).toBeNull();
  });

  it('lists the catalogue by title with a search of title or artist, in keyset pages', async () => {
    const page = async (variables: Record<string, unknown>) =>
      (await graphql(app.url, 'query($slug: String!, $q: String, $first: Int, $after: String) { club(slug: $slug) { songs(search: $q, first: $first, after: $after) { edges { cursor node { title audio { bytes } } } pageInfo { hasNextPage endCursor } } } }', {
        token: manager,
        variables: { slug: club.slug, ...variables },
      })).data.club.songs;
    const first = await page({ first: 4 });
    expect(first.edges.map((e: any) => e.node.title)).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta']);
    expect(first.edges.map((e: any) => e.node.audio !== null)).toEqual([true, true, false, false]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page({ first: 4, after: first.pageInfo.endCursor });
    expect(second.edges.map((e: any) => e.node.title)).toEqual(['Echo', 'On Offer']);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect((await page({ q: 'ARTIST OF ch' })).edges.map((e: any) => e.node.title)).toEqual(['Charlie']);
    expect((await page({ q: 'ha' })).edges.map((e: any) => e.node.title)).toEqual(['Alpha', 'Charlie']);
  });
});

describe('tickets and signed URLs run out', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ MEDIA_UPLOAD_TICKET_SECONDS: '1', MEDIA_URL_SECONDS: '1' });
  });
  afterAll(() => app?.stop());

  it('refuses a ticket used after its time (410) and a signed URL after its time (403)', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Late']);
    const manager = await app.token({ subject: 'late-manager', roles: ['manager'], clubIds: [club.id] });
    const file = wavFile(0.25);
    const ticket = async () =>
      (await graphql(app.url, TICKET, { token: manager, variables: { song: song!.id, type: 'audio/wav', bytes: file.length } })).data.requestSongUpload.url as string;
    const late = await ticket();
    const fresh = await ticket();
    expect((await putFile(fresh, file)).status).toBe(201);
    const { data } = await graphql(app.url, 'query($slug: String!) { club(slug: $slug) { songs { edges { node { audio { url } } } } } }', { token: manager, variables: { slug: club.slug } });
    const signed = data.club.songs.edges[0].node.audio.url as string;
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await putFile(late, file)).toMatchObject({ status: 410, body: { code: 'TICKET_EXPIRED' } });
    const expired = await fetch(signed);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ code: 'FORBIDDEN', error: expect.stringContaining('expired') });
  });
});
