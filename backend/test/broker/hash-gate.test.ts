import { describe, expect, it } from 'vitest';
import { HashGate } from '../../src/broker/hash-gate.ts';

/** A task the test finishes by hand, recording when it started. */
function manualTask(name: string, started: string[]) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    run: async () => {
      started.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('HashGate', () => {
  it('runs at most `concurrency` tasks, starting trusted waiters before others', async () => {
    const gate = new HashGate({ concurrency: 1, maxWaiting: 10 });
    const started: string[] = [];
    const [first, other, trusted] = [manualTask('first', started), manualTask('other', started), manualTask('trusted', started)];
    const results = [gate.run('other', first.run), gate.run('other', other.run), gate.run('trusted', trusted.run)];
    await settle();
    expect(started).toEqual(['first']);
    expect(gate.load()).toEqual({ running: 1, trusted: 1, other: 1 });
    first.finish();
    await settle();
    expect(started).toEqual(['first', 'trusted']);
    trusted.finish();
    other.finish();
    expect(await Promise.all(results)).toEqual(['first', 'other', 'trusted']);
    expect(gate.load()).toEqual({ running: 0, trusted: 0, other: 0 });
  });

  it('refuses an untrusted task when maxWaiting are queued, but never a trusted one', async () => {
    const gate = new HashGate({ concurrency: 1, maxWaiting: 1 });
    const started: string[] = [];
    const busy = manualTask('busy', started);
    const running = gate.run('other', busy.run);
    const queued = gate.run('other', async () => 'queued');
    expect(gate.run('other', async () => 'refused')).toBeUndefined();
    const trusted = gate.run('trusted', async () => 'trusted');
    expect(trusted).toBeDefined();
    busy.finish();
    expect(await Promise.all([running, queued, trusted])).toEqual(['busy', 'queued', 'trusted']);
  });

  it('frees the slot when a task throws', async () => {
    const gate = new HashGate({ concurrency: 1, maxWaiting: 1 });
    await expect(
      gate.run('other', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await gate.run('other', async () => 'next')).toBe('next');
  });
});
