import type { NewReading, ReadingsMeta, ShutdownMarker, StoreResult } from '../db/index.ts';
import type { DatabaseGate } from './database-gate.ts';
import type { IngestStore } from './ingest-store.ts';
import type { PartRejection } from './rejection-rows.ts';

export type IsolatedStore = { status: 'unavailable' } | { status: 'done'; result: StoreResult; refused: PartRejection[] };

type Item = { reading: NewReading } | { shutdown: ShutdownMarker };

/**
 * Stores a batch in one transaction; if the store is refused for a reason that is not the
 * database's (a value the database will not take, a bug on this data's path), the batch is split
 * in halves and each stored on its own, down to single readings, so only what fails by itself is
 * rejected (`store_refused`, with the error) and every other reading of the batch is stored. One
 * bad reading costs about 2·log2(n) extra transactions; a batch that fails everywhere, 2n.
 * An outage on the way stops everything: not acknowledged, the batch comes again, and what was
 * committed meanwhile comes back as duplicates.
 */
export async function storeIsolating(gate: DatabaseGate, store: IngestStore, deviceId: string, readings: readonly NewReading[], meta: ReadingsMeta, what: string): Promise<IsolatedStore> {
  const items: Item[] = [...readings.map((reading) => ({ reading })), ...(meta.shutdowns ?? []).map((shutdown) => ({ shutdown }))];
  const total: StoreResult = { stored: 0, duplicates: 0, conflicts: [] };
  const refused: PartRejection[] = [];
  const attempt = async (part: Item[]): Promise<boolean> => {
    const partReadings = part.flatMap((item) => ('reading' in item ? [item.reading] : []));
    const shutdowns = part.flatMap((item) => ('shutdown' in item ? [item.shutdown] : []));
    const outcome = await gate.run(what, () => store.storeBatch(deviceId, partReadings, { ...meta, shutdowns }));
    if (outcome.status === 'unavailable') return false;
    if (outcome.status === 'done') {
      total.stored += outcome.value.stored;
      total.duplicates += outcome.value.duplicates;
      total.conflicts.push(...outcome.value.conflicts);
      return true;
    }
    if (part.length <= 1) {
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      const item = part[0];
      const which = item === undefined ? 'the batch (no readings)' : 'reading' in item ? `reading ${item.reading.streamId}` : `the shutdown marker of boot ${item.shutdown.bootId}`;
      const what = item === undefined ? null : 'reading' in item ? item.reading : item.shutdown;
      refused.push({ part: what, rejection: { reason: 'store_refused', detail: `${which} could not be stored while the database served others: ${message}` } });
      return true;
    }
    const half = Math.ceil(part.length / 2);
    return (await attempt(part.slice(0, half))) && (await attempt(part.slice(half)));
  };
  return (await attempt(items)) ? { status: 'done', result: total, refused } : { status: 'unavailable' };
}
