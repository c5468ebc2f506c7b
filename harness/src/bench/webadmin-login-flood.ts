import { BackendStack } from '../harness/backend-stack.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * Password guessing against the web admin's login: how many guesses it actually checks.
 *
 *   npm run bench:webadmin-login-flood -- [--runs 5] [--seconds 5] [--concurrency 50]
 *
 * Per run, against one web admin process (SQLite) on loopback: `--concurrency` loops POST
 * /login with wrong passwords for the admin account, from one address, for `--seconds`. Each
 * answer is a 401 (the password was hashed and compared: a checked guess), a 429 (refused by the
 * limit before any hashing) or something else. A first burst of 200 concurrent guesses comes
 * before the timed loops, since the limit used to be checked before the hash and recorded after
 * it, so a burst passed it whole. Reported: medians over the runs of checked guesses in the burst,
 * and checked guesses/s and refusals/s in the timed flood.
 */
const runs = numericFlag('runs', 5);
const seconds = numericFlag('seconds', 5);
const concurrency = numericFlag('concurrency', 50);
const BURST = 200;

interface RunResult {
  burstChecked: number;
  checkedPerSecond: number;
  refusedPerSecond: number;
  other: number;
}

async function guess(url: string, username: string, n: number): Promise<number> {
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `guess-${n}` }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function oneRun(run: number): Promise<RunResult> {
  const stack = await new BackendStack({ deviceIds: [] }).start();
  try {
    const web = await stack.startWebAdmin();
    const username = web.admin.username;
    const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => guess(web.url, username, i)));
    const burstChecked = burst.filter((s) => s === 401).length;
    const counts = { checked: 0, refused: 0, other: 0 };
    const started = performance.now();
    const deadline = started + seconds * 1000;
    let n = BURST;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const status = await guess(web.url, username, n++);
          if (status === 401) counts.checked++;
          else if (status === 429) counts.refused++;
          else counts.other++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const result = { burstChecked, checkedPerSecond: counts.checked / elapsed, refusedPerSecond: counts.refused / elapsed, other: counts.other };
    progress(`run ${run}/${runs}: burst of ${BURST} → ${burstChecked} checked; flood ${result.checkedPerSecond.toFixed(1)} checked/s, ${result.refusedPerSecond.toFixed(0)} refused/s, ${counts.other} other`);
    return result;
  } finally {
    await stack.dispose();
  }
}

const results: RunResult[] = [];
for (let run = 1; run <= runs; run++) results.push(await oneRun(run));
const report = {
  runs,
  seconds,
  concurrency,
  burst: BURST,
  medianBurstChecked: median(results.map((r) => r.burstChecked)),
  medianCheckedPerSecond: Number(median(results.map((r) => r.checkedPerSecond)).toFixed(2)),
  medianRefusedPerSecond: Number(median(results.map((r) => r.refusedPerSecond)).toFixed(1)),
  otherAnswers: results.reduce((sum, r) => sum + r.other, 0),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
