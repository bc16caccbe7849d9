import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { reportOf } from './service.js';

export const reportResolvers: Resolvers = {
  Night: {
    async report(night, _args, ctx) {
      const { figures, key } = await reportOf(ctx, night);
      if (key !== null) ctx.reportKeys.set(night.id, { clubId: night.clubId, key });
      return figures;
    },
  },
  NightReport: {
    computedAt: (report) => new Date(report.computedAt),
    peakOccupancy: (report) => (report.tables === 0 ? 0 : Math.round((report.occupiedTables / report.tables) * 10_000) / 10_000),
    checkIns: (report) => ({ ...report.checkIns, byQuarterHour: report.checkIns.byQuarterHour.map((q) => ({ startsAt: new Date(q.startsAt), count: q.count })) }),
  },
  VotingFigures: {
    topSongs: (voting, _args, ctx) =>
      Promise.all(voting.topSongs.map(async (s) => ({ song: (await ctx.loaders.songById.load(s.songId))!, votes: s.votes }))),
  },
};
