import { percentile } from '../load.js';
import { round } from '../report.js';
import { mismatch, type Answer, type Expected } from './answers.js';

export interface Figure {
  n: number;
  medianMs: number;
  maxMs: number;
  /** Every time, in the order measured: a max far from the median shows which repetition it was. */
  samplesMs: number[];
}

/**
 * The times measured, per figure, and every answer that was not the expected one. A
 * wrong answer's time is left out of its figure (a DATABASE_TIMEOUT after 20 s is not a
 * fast failure) and listed as a failure instead, so the summary cannot look clean by accident.
 */
export class Figures {
  private readonly samples = new Map<string, number[]>();
  readonly failures: string[] = [];

  /** Counts `answer.ms` under `name` if the answer is `expected`; returns whether it was. */
  answer(name: string, answer: Answer, expected: Expected): boolean {
    const wrong = mismatch(answer, expected);
    if (wrong) this.fail(`${name}: ${wrong}`);
    else this.add(name, answer.ms);
    return wrong === undefined;
  }

  add(name: string, ms: number): void {
    const list = this.samples.get(name) ?? [];
    list.push(ms);
    this.samples.set(name, list);
  }

  fail(message: string): void {
    this.failures.push(message);
  }

  get(name: string): Figure {
    const samplesMs = this.samples.get(name) ?? [];
    const sorted = Float64Array.from(samplesMs).sort();
    return { n: sorted.length, medianMs: percentile(sorted, 50), maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN, samplesMs };
  }

  /** `median 301.2 ms, max 305.0 ms (5)` */
  format(name: string): string {
    const f = this.get(name);
    if (f.n === 0) return 'n/a (no expected answer)';
    return `median ${f.medianMs.toFixed(1)} ms, max ${f.maxMs.toFixed(1)} ms (${f.n})`;
  }

  /** Every figure, rounded, for the JSON result. */
  fields(): Record<string, Figure> {
    return Object.fromEntries(
      [...this.samples.keys()].map((name) => {
        const f = this.get(name);
        return [name, { n: f.n, medianMs: round(f.medianMs, 1), maxMs: round(f.maxMs, 1), samplesMs: f.samplesMs.map((ms) => round(ms, 1)) }];
      }),
    );
  }
}
