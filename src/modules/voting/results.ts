import type { Song } from '../../db/schema.js';

export interface VoteResultModel {
  song: Song;
  votes: number;
  /** Percent with two decimals. */
  percentage: number;
}

export interface VoteResultsModel {
  totalVotes: number;
  entries: VoteResultModel[];
}

/**
 * Orders songs by votes (most first) then title, and gives each its share of the votes
 * with two decimals. Shares are apportioned by largest remainder in hundredths of a
 * percent, so they sum to exactly 100 whenever any vote was cast (all zero otherwise).
 */
export function voteResults(counts: readonly { song: Song; votes: number }[]): VoteResultsModel {
  const totalVotes = counts.reduce((sum, c) => sum + c.votes, 0);
  const ordered = [...counts].sort(
    (a, b) => b.votes - a.votes || a.song.title.localeCompare(b.song.title) || a.song.id.localeCompare(b.song.id),
  );
  const hundredths = apportion(
    ordered.map((c) => c.votes),
    10_000,
  );
  return {
    totalVotes,
    entries: ordered.map((c, i) => ({ song: c.song, votes: c.votes, percentage: hundredths[i]! / 100 })),
  };
}

/**
 * Splits `whole` units in proportion to `weights` with integers that sum to `whole`
 * (Hamilton's method; ties in the remainder go to the earlier weight). All zeros when
 * the weights sum to zero.
 */
export function apportion(weights: readonly number[], whole: number): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (total === 0) return weights.map(() => 0);
  const shares = weights.map((w, index) => {
    const exact = (w * whole) / total;
    return { index, floor: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let left = whole - shares.reduce((sum, s) => sum + s.floor, 0);
  const result = shares.map((s) => s.floor);
  for (const share of [...shares].sort((a, b) => b.remainder - a.remainder || a.index - b.index)) {
    if (left === 0) break;
    result[share.index]! += 1;
    left -= 1;
  }
  return result;
}
