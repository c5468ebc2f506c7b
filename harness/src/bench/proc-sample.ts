import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Memory of one process as the kernel counts it (/proc/<pid>/status), in KiB. */
export interface ProcessMemory {
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the highest VmRSS since the process started. */
  peakKiB: number;
  /** RssAnon: heap, stacks, malloc: what this process alone costs. */
  anonKiB: number;
  /** RssFile: mapped files resident, mostly the node binary's pages, shared with other node processes. */
  fileKiB: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM'), anonKiB: field('RssAnon'), fileKiB: field('RssFile') };
}

let ticksPerSecond: number | undefined;

/** CPU time (user + system) the process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, so 12 and 13 after the name and state.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

export const mib = (kib: number) => kib / 1024;
