import type { Store } from '../store/types.js';

/** A key's state as of a Log offset, kept in the Store. */
export interface Snapshot {
  state: unknown;
  /** Idempotency key → recorded result, oldest first. */
  recent: [string, unknown][];
  /** The last Log offset the state includes, in `logEpoch`. */
  offset: number;
  logEpoch: string;
  /** The lease epoch of the owner that wrote it. */
  fence: number;
}

/** Reads a key's snapshot, or null. */
export async function readSnapshot(store: Store, recordKey: string): Promise<Snapshot | null> {
  const rec = await store.get(recordKey);
  return rec ? (JSON.parse(rec.value) as Snapshot) : null;
}

/**
 * Writes a snapshot unless the stored one is newer (a later owner's, or a later offset of the same
 * Log epoch): a former owner that resumes can never replace a newer snapshot with an older one.
 * Returns whether it was written.
 */
export async function writeSnapshot(store: Store, recordKey: string, snap: Snapshot): Promise<boolean> {
  const value = JSON.stringify(snap);
  for (let round = 0; round < 3; round++) {
    const rec = await store.get(recordKey);
    if (!rec) {
      if ((await store.create(recordKey, value)).ok) return true;
      continue;
    }
    const old = JSON.parse(rec.value) as Snapshot;
    if (old.fence > snap.fence || (old.logEpoch === snap.logEpoch && old.offset >= snap.offset)) return false;
    if ((await store.update(recordKey, value, { ifVersion: rec.version })).ok) return true;
  }
  return false;
}
