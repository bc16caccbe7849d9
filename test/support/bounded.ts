/**
 * Waits for `work` at most `ms`, then fails naming `what`. The bound guards against a
 * hang; it is never the claim under test, so pick it far above any honest wait.
 */
export async function within<T>(ms: number, what: string, work: PromiseLike<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(work),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A latch a test opens when it chooses: `wait` resolves once `open` was called. */
export function latch(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
