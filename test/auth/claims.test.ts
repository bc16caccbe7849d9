import { describe, expect, it } from 'vitest';
import { claimAt, namesClaim, putClaim } from '../../src/platform/claims.js';

describe('claims at dot paths', () => {
  it('reads nested claims, keys that contain dots, and nothing where the path leads nowhere', () => {
    const payload = {
      roles: ['host'],
      realm_access: { roles: ['manager'] },
      'https://club.example/claims': { roles: ['admin'], 'a.b': 1 },
    };
    expect(claimAt(payload, 'roles')).toEqual(['host']);
    expect(claimAt(payload, 'realm_access.roles')).toEqual(['manager']);
    expect(claimAt(payload, 'https://club.example/claims.roles')).toEqual(['admin']);
    expect(claimAt(payload, 'https://club.example/claims.a.b')).toBe(1);
    expect(claimAt(payload, 'realm_access.roles.0')).toBeUndefined();
    expect(claimAt(payload, 'missing.roles')).toBeUndefined();
    expect(claimAt({ toString: 'x' }, 'constructor')).toBeUndefined();
  });

  it('writes a claim where it reads it back, keeping its neighbours', () => {
    const payload: Record<string, unknown> = {};
    putClaim(payload, 'https://nightgraph/claims.roles', ['host']);
    putClaim(payload, 'https://nightgraph/claims.clubIds', ['c']);
    expect(payload).toEqual({ 'https://nightgraph/claims': { roles: ['host'], clubIds: ['c'] } });
    expect(claimAt(payload, 'https://nightgraph/claims.clubIds')).toEqual(['c']);
  });

  it('takes a list of names as an array or one space- or comma-separated string, and nothing else', () => {
    expect(namesClaim(['a', 'b'])).toEqual(['a', 'b']);
    expect(namesClaim('a b,c')).toEqual(['a', 'b', 'c']);
    expect(namesClaim(undefined)).toBeUndefined();
    expect(namesClaim([1])).toBeNull();
    expect(namesClaim({ a: 1 })).toBeNull();
  });
});
