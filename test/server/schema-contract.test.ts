import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSchema, getNamedType } from 'graphql';
import { describe, expect, it } from 'vitest';

const schema = buildSchema(readFileSync(fileURLToPath(new URL('../../schema.graphql', import.meta.url)), 'utf8'));

/**
 * Argument lists a contract spells exactly: venue operations' `removeStaff(clubId, subject)` and
 * `cancelNight(id, reason)`, the music library's `requestSongUpload(songId, contentType, bytes)`.
 */
const SPELLED_BY_CONTRACT = new Set(['removeStaff', 'cancelNight', 'requestSongUpload']);

describe('the schema as a client generator reads it', () => {
  it('gives every mutation that takes more than an id one input object (beside the id of what it changes)', () => {
    const odd = Object.values(schema.getMutationType()!.getFields())
      .filter((field) => !SPELLED_BY_CONTRACT.has(field.name))
      .filter((field) => {
        const args = field.args.filter((a) => a.deprecationReason == null);
        const names = args.map((a) => a.name).join(',');
        const oneId = args.length === 1 && getNamedType(args[0]!.type).name === 'ID';
        return !(args.length === 0 || oneId || names === 'input' || names === 'id,input');
      })
      .map((field) => `${field.name}(${field.args.map((a) => a.name).join(', ')})`);
    expect(odd).toEqual([]);
  });
});
