import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderHall } from '../modules/clubs/hall.js';
import { hallOf, nightWithClub } from '../modules/clubs/service.js';
import type { Scope } from '../modules/scope.js';
import { livePage } from './live-page.js';

const SVGS_KEPT = 1_000;

/**
 * `GET /clubs/{slug}/nights/{nightId}/hall.svg` — the floor plan coloured by the current
 * snapshot; its ETag is the snapshot version, so a client polling with If-None-Match gets
 * 304 until something changes. Each (night, version) is rendered once.
 * `GET /live/{nightId}` — a page that redraws that plan on every subscription event.
 */
export function createHallRoutes(scopeFor: () => Scope) {
  const rendered = new Map<string, string>();

  async function hall(req: IncomingMessage, res: ServerResponse, slug: string, nightId: string): Promise<void> {
    const found = await hallOf(scopeFor(), slug, nightId);
    if (!found) return notFound(res);
    const { club, snapshot } = found;
    const etag = `"${snapshot.version}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.headers['if-none-match'] === etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const key = `${snapshot.nightId}@${snapshot.version}`;
    let svg = rendered.get(key);
    if (svg === undefined) {
      svg = renderHall(club.name, snapshot);
      if (rendered.size >= SVGS_KEPT) rendered.delete(rendered.keys().next().value!);
      rendered.set(key, svg);
    }
    res.setHeader('Content-Type', 'image/svg+xml; charset=utf-8');
    res.end(svg);
  }

  async function live(res: ServerResponse, nightId: string): Promise<void> {
    const found = await nightWithClub(scopeFor(), nightId);
    if (!found) return notFound(res);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(livePage({ clubName: found.club.name, clubSlug: found.club.slug, nightId, startsAt: found.night.startsAt }));
  }

  /** Answers the request if its path is one of these routes; false otherwise. */
  return async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const hallMatch = /^\/clubs\/([^/]+)\/nights\/([^/]+)\/hall\.svg$/.exec(path);
    const liveMatch = /^\/live\/([^/]+)$/.exec(path);
    if (!hallMatch && !liveMatch) return false;
    const [first, second] = (hallMatch ?? liveMatch)!.slice(1).map(decodeSegment);
    if (first === null || second === null) notFound(res);
    else if (hallMatch) await hall(req, res, first!, second!);
    else await live(res, first!);
    return true;
  };
}

/** A path segment decoded, or null if it is not valid percent-encoding. */
function decodeSegment(segment: string | undefined): string | null | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function notFound(res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('No such club night');
}
