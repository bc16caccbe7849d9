import { describe, expect, it } from 'vitest';
import { apportion, voteResults } from '../../src/modules/voting/results.js';

const song = (title: string) => ({ id: title, clubId: 'c', title, artist: 'x', createdAt: new Date(0) });

describe('apportion', () => {
  it('splits a whole exactly, largest remainders first', () => {
    expect(apportion([1, 1, 1], 10_000)).toEqual([3334, 3333, 3333]);
    expect(apportion([4, 2, 1], 10_000)).toEqual([5714, 2857, 1429]);
    expect(apportion([0, 5, 0], 10_000)).toEqual([0, 10_000, 0]);
  });

  it('gives zeros when nothing was counted', () => {
    expect(apportion([0, 0], 10_000)).toEqual([0, 0]);
    expect(apportion([], 10_000)).toEqual([]);
  });

  it('always sums to the whole', () => {
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let round = 0; round < 200; round += 1) {
      const weights = Array.from({ length: 1 + Math.floor(random() * 30) }, () => Math.floor(random() * 1000));
      const shares = apportion(weights, 10_000);
      const total = weights.reduce((a, b) => a + b, 0);
      expect(shares.reduce((a, b) => a + b, 0)).toBe(total === 0 ? 0 : 10_000);
      expect(shares.every((s) => Number.isInteger(s) && s >= 0)).toBe(true);
    }
  });
});

describe('voteResults', () => {
  it('orders by votes, then title, and gives percentages with two decimals summing to 100', () => {
    const results = voteResults([
      { song: song('b'), votes: 2 },
      { song: song('c'), votes: 0 },
      { song: song('a'), votes: 2 },
      { song: song('d'), votes: 5 },
    ]);
    expect(results.totalVotes).toBe(9);
    expect(results.entries.map((e) => [e.song.title, e.votes, e.percentage])).toEqual([
      ['d', 5, 55.56],
      ['a', 2, 22.22],
      ['b', 2, 22.22],
      ['c', 0, 0],
    ]);
    expect(results.entries.reduce((sum, e) => sum + Math.round(e.percentage * 100), 0)).toBe(10_000);
  });
});
