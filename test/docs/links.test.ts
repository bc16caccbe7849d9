import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// README.md and docs/**/*.md link to each other by relative path and heading anchor; GitHub
// renders a dangling one as a 404 or a jump to nowhere, silently. This holds every such
// link to a file that exists and, for an anchor, to a heading of that file.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the documents live; paths are repository-relative with `/`. */
interface Files {
  exists(path: string): boolean;
  read(path: string): string;
}

const onDisk: Files = {
  exists: (path) => existsSync(ROOT + path),
  read: (path) => readFileSync(ROOT + path, 'utf8'),
};

function documents(): string[] {
  const docs = readdirSync(`${ROOT}docs`, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name.split('\\').join('/')}`);
  return ['README.md', ...docs.sort()];
}

/**
 * The text with every fenced code block blanked, line for line, so that a `# comment` in a
 * shell block is no heading and a `[x](y)` in a code sample is no link. A fence closes on
 * the same character repeated at least as often as it opened (CommonMark).
 */
function withoutFences(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined) {
      if (marker === undefined) return line;
      fence = marker;
      return '';
    }
    if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
    return '';
  });
}

/** Inline code spans (within one paragraph) replaced by spaces, newlines kept, so their text is neither link nor markup. */
function withoutCodeSpans(text: string): string {
  return text.replace(/(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n)[\s\S])*?(?<!`)\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' '));
}

/** A heading's text as GitHub renders it: code spans keep their text, links their label, tags go. */
function renderedText(heading: string): string {
  return heading
    .replace(/(`+)([\s\S]*?)\1/g, '$2')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim();
}

/** GitHub's anchor for a heading's rendered text (github-slugger): lower case, spaces to `-`, punctuation but `-` and `_` dropped. */
function githubSlug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a document offers: its headings' slugs, repeats numbered `-1`, `-2`… as GitHub does, and explicit `id`/`name` attributes. */
function anchorsOf(markdown: string): Set<string> {
  const lines = withoutFences(markdown);
  const occurrences = new Map<string, number>();
  const anchors = new Set<string>();
  const add = (text: string) => {
    const base = githubSlug(renderedText(text));
    let slug = base;
    while (occurrences.has(slug)) {
      const n = occurrences.get(base)! + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    anchors.add(slug);
  };
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) return add(atx[1] ?? '');
    const previous = lines[i - 1]?.trim() ?? '';
    if (/^ {0,3}(=+|-+)[ \t]*$/.test(line) && previous !== '' && !/^ {0,3}(#|[-*+] |\d+[.)] |>|\|)/.test(lines[i - 1]!)) add(previous);
  });
  for (const match of markdown.matchAll(/<[a-z][^>]*\s(?:id|name)=["']([^"']+)["']/gi)) anchors.add(match[1]!);
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** The inline links, images and reference definitions of a document, outside code. */
function linksOf(markdown: string): Link[] {
  const prose = withoutCodeSpans(withoutFences(markdown).join('\n'));
  const lineAt = (offset: number) => prose.slice(0, offset).split('\n').length;
  const links: Link[] = [];
  for (const match of prose.matchAll(/\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
    links.push({ line: lineAt(match.index), target: match[1]!.replace(/^<(.*)>$/, '$1') });
  }
  for (const match of prose.matchAll(/^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    links.push({ line: lineAt(match.index), target: match[1]!.replace(/^<(.*)>$/, '$1') });
  }
  return links;
}

/**
 * What is wrong with each relative link of the given documents, as `file:line: target: why`.
 * Links with a scheme (https:, mailto:…) or to another host are not this check's business.
 */
function brokenLinks(paths: readonly string[], files: Files): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = (path: string) => {
    let anchors = anchorCache.get(path);
    if (!anchors) anchorCache.set(path, (anchors = anchorsOf(files.read(path))));
    return anchors;
  };
  const problems: string[] = [];
  for (const from of paths) {
    for (const { line, target } of linksOf(files.read(from))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      const where = `${from}:${line}: (${target})`;
      if (target === '') {
        problems.push(`${where}: an empty link`);
        continue;
      }
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const to = pathPart === '' ? from : posix.normalize(pathPart.startsWith('/') ? pathPart.slice(1) : posix.join(posix.dirname(from), pathPart)).replace(/\/$/, '');
      if (to.startsWith('../') || to === '..') {
        problems.push(`${where}: points outside the repository (${to})`);
        continue;
      }
      if (!files.exists(to)) {
        problems.push(`${where}: no file ${to}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!to.endsWith('.md')) {
        if (!/^L\d+(-L\d+)?$/.test(anchor)) problems.push(`${where}: ${to} is not Markdown, so it has no heading "${anchor}" (only line anchors like #L12)`);
        continue;
      }
      if (!anchorsIn(to).has(anchor)) problems.push(`${where}: ${to} has no heading whose anchor is "${anchor}"`);
    }
  }
  return problems;
}

function inMemory(documents: Record<string, string>): Files {
  return {
    exists: (path) => path in documents || Object.keys(documents).some((name) => name.startsWith(`${path}/`)),
    read: (path) => documents[path] ?? '',
  };
}

describe('links between the README and docs/', () => {
  it('no document links to a missing file or heading', () => {
    const paths = documents();
    expect(paths).toContain('docs/api.md');
    expect(brokenLinks(paths, onDisk)).toEqual([]);
  });

  it('slugs headings as GitHub does: lower case, spaces to -, punctuation dropped, code kept, repeats numbered', () => {
    const anchors = anchorsOf(
      [
        '# Design',
        '## Booking a table, and watching it live',
        '### `fanout`, Server-Sent Events — 10,000 streams',
        '## Design',
        '## Design',
        '## snake_case and Ünïcode 2.0',
        '```sh',
        '# not a heading',
        '```',
        'Setext heading',
        '--------------',
      ].join('\n'),
    );
    expect([...anchors]).toEqual([
      'design',
      'booking-a-table-and-watching-it-live',
      'fanout-server-sent-events--10000-streams',
      'design-1',
      'design-2',
      'snake_case-and-ünïcode-20',
      'setext-heading',
    ]);
  });

  it('reports a missing file, a missing heading, a missing anchor of its own, and nothing in code or off-site', () => {
    const problems = brokenLinks(
      ['README.md', 'docs/api.md'],
      inMemory({
        'README.md': [
          '# Nightgraph',
          'See [the API](docs/api.md), [errors](docs/api.md#errors) and [limits](docs/api.md#limits),',
          '[a guide that is gone](docs/guide.md), [the start](#start) and [the top](#nightgraph).',
          'Elsewhere: [GraphQL](https://graphql.org/#spec), [mail](mailto:club@example.com), `[not a](link.md)`.',
          '```md',
          '[nor this](missing.md)',
          '```',
        ].join('\n'),
        'docs/api.md': ['# Using the API', '## Errors', 'Back to the [README](../README.md#nightgraph), on to [the source](../src/).'].join('\n'),
        'src/main.ts': '',
      }),
    );
    expect(problems).toEqual([
      'README.md:2: (docs/api.md#limits): docs/api.md has no heading whose anchor is "limits"',
      'README.md:3: (docs/guide.md): no file docs/guide.md',
      'README.md:3: (#start): README.md has no heading whose anchor is "start"',
    ]);
  });
});
