/**
 * Reads the statements a PostgreSQL client sends, off the bytes of its connection (the
 * frontend protocol: a startup message, then typed, length-prefixed messages). A
 * statement is seen when it runs — a simple Query, or a Bind of a prepared statement —
 * under its text, even when the text travelled only once, in the statement's Parse.
 */
export class StatementReader {
  private pending: Buffer = Buffer.alloc(0);
  private started = false;
  /** Prepared statement name → its text. */
  private readonly prepared = new Map<string, string>();

  /** Feeds the next chunk; returns the texts of the statements it runs, in order. */
  read(chunk: Buffer): string[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const run: string[] = [];
    for (;;) {
      if (!this.started) {
        if (this.pending.length < 4) break;
        const length = this.pending.readInt32BE(0);
        if (this.pending.length < length) break;
        this.pending = this.pending.subarray(length);
        this.started = true;
        continue;
      }
      if (this.pending.length < 5) break;
      const length = this.pending.readInt32BE(1);
      if (this.pending.length < 1 + length) break;
      const type = String.fromCharCode(this.pending[0]!);
      const body = this.pending.subarray(5, 1 + length);
      this.pending = this.pending.subarray(1 + length);
      if (type === 'Q') run.push(cstring(body, 0).text);
      if (type === 'P') {
        const name = cstring(body, 0);
        this.prepared.set(name.text, cstring(body, name.next).text);
      }
      if (type === 'B') {
        const portal = cstring(body, 0);
        run.push(this.prepared.get(cstring(body, portal.next).text) ?? '');
      }
    }
    return run;
  }
}

function cstring(buffer: Buffer, from: number): { text: string; next: number } {
  const end = buffer.indexOf(0, from);
  return { text: buffer.toString('utf8', from, end), next: end + 1 };
}
