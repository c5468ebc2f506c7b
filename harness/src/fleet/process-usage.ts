import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every mainstream architecture). */
const TICKS_PER_SECOND = 100;

export interface Usage {
  /** User + system CPU seconds since each process started, summed. */
  cpuSeconds: number;
  /** Resident set sizes, summed. */
  rssBytes: number;
  /** Processes that could be read (the others have exited). */
  processes: number;
}

/** CPU time and RSS of a group of processes from /proc (Linux only). */
export function usageOf(pids: readonly number[]): Usage {
  const usage: Usage = { cpuSeconds: 0, rssBytes: 0, processes: 0 };
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: count fields after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      usage.cpuSeconds += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      usage.rssBytes += rss === null ? 0 : Number(rss[1]) * 1024;
      usage.processes++;
    } catch {
      // exited meanwhile
    }
  }
  return usage;
}

/**
 * Follows a named group of processes: `sample()` gives the share of one core each group used
 * since the previous sample, and its RSS now; the peaks are kept.
 */
export class UsageMeter {
  private last = new Map<string, { cpu: number; at: number }>();
  readonly peaks = new Map<string, { cpuCores: number; rssBytes: number }>();
  /** CPU seconds used between {@link mark} and now, per group. */
  private marked = new Map<string, { cpu: number; at: number }>();

  private readonly groups: () => Record<string, readonly number[]>;

  constructor(groups: () => Record<string, readonly number[]>) {
    this.groups = groups;
  }

  sample(): Record<string, { cpuCores: number; rssBytes: number }> {
    const now = performance.now();
    const result: Record<string, { cpuCores: number; rssBytes: number }> = {};
    for (const [name, pids] of Object.entries(this.groups())) {
      if (pids.length === 0) continue; // e.g. SQLite: no database process
      const usage = usageOf(pids);
      const previous = this.last.get(name);
      const cpuCores = previous === undefined ? 0 : (usage.cpuSeconds - previous.cpu) / ((now - previous.at) / 1000);
      this.last.set(name, { cpu: usage.cpuSeconds, at: now });
      result[name] = { cpuCores, rssBytes: usage.rssBytes };
      const peak = this.peaks.get(name) ?? { cpuCores: 0, rssBytes: 0 };
      this.peaks.set(name, { cpuCores: Math.max(peak.cpuCores, cpuCores), rssBytes: Math.max(peak.rssBytes, usage.rssBytes) });
    }
    return result;
  }

  /** Starts a measuring window (e.g. once every device is up). */
  mark(): void {
    const now = performance.now();
    this.marked = new Map(Object.entries(this.groups()).map(([name, pids]) => [name, { cpu: usageOf(pids).cpuSeconds, at: now }]));
  }

  /** Mean share of a core per group since {@link mark}. */
  sinceMark(): Record<string, number> {
    const now = performance.now();
    const result: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups())) {
      const start = this.marked.get(name);
      if (pids.length === 0) continue;
      if (start === undefined) continue;
      result[name] = (usageOf(pids).cpuSeconds - start.cpu) / ((now - start.at) / 1000);
    }
    return result;
  }
}
