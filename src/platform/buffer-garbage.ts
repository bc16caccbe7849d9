import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Every chunk a socket reads is a fresh Buffer whose memory lives outside the V8 heap until
 * a scavenge finds its small JS wrapper dead. A streamed upload makes such chunks fast while
 * making almost no heap garbage, so the young generation (large, for the GraphQL read paths)
 * takes long to fill and up to V8's external-memory limit (64 MiB) of dead chunks stays
 * resident. `collectEvery(bytes)` returns a counter of streamed bytes: each `bytes` counted,
 * it runs one young-generation collection (a scavenge: a millisecond or two, it touches only
 * live young objects), which returns those chunks' memory to the allocator for the next ones.
 */
export function collectEvery(bytes: number): (streamed: number) => void {
  let since = 0;
  return (streamed) => {
    since += streamed;
    if (since < bytes) return;
    since = 0;
    scavenge();
  };
}

type Gc = (options: { type: 'minor' }) => void;
let gc: Gc | undefined;

function scavenge(): void {
  // The collector is not exposed to scripts by default; the flag, set once, exposes it to new contexts.
  if (!gc) {
    const exposed = (globalThis as { gc?: Gc }).gc;
    if (!exposed) setFlagsFromString('--expose-gc');
    gc = exposed ?? (runInNewContext('gc') as Gc);
  }
  gc({ type: 'minor' });
}
