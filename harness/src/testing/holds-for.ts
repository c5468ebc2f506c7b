/**
 * Checks that `check` stays true for `forMs` of wall time, polling it, and fails the first time it
 * is false. This is how a test shows that something does *not* happen: no reading while measuring
 * is stopped, no byte across a partition, no second toggle from contact bounce.
 *
 * It is not a bound on speed. A slow or overloaded machine cannot make it fail; it can only make
 * the watch less close (fewer polls). The window is the least time the unwanted thing had to show
 * up, so pick it comfortably longer than whatever would cause it (a debounce, an interval), and
 * wait for things that *should* happen with `eventually`, never with this.
 */
export async function holdsFor(check: () => boolean | Promise<boolean>, forMs: number, what: string): Promise<void> {
  const until = Date.now() + forMs;
  for (;;) {
    if (!(await check())) throw new Error(`${what} stopped holding within ${forMs} ms`);
    if (Date.now() >= until) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(10, Math.max(0, until - Date.now()))));
  }
}
