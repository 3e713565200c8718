// The recorder's queue in IndexedDB (through idb): every walk and every point is written here
// first and leaves only once the server has confirmed it. Each record carries its patroller, so
// one phone shared by two volunteers never sends one's points under the other's sign-in.
import { openDB, deleteDB } from '../npm/idb/index.js';

export const DB_NAME = 'gridsvc-recorder';
const VERSION = 1;

/** Open (and on first use create) the queue's database. */
export async function openQueue(name = DB_NAME) {
  const db = await openDB(name, VERSION, {
    upgrade(database) {
      // A walk: {client_uuid, patroller, kind, task_id, start, end, state, seq, distance_m, ...}.
      const walks = database.createObjectStore('walks', { keyPath: 'client_uuid' });
      walks.createIndex('patroller', 'patroller');
      // A point: {client_uuid, seq, patroller, fix}; the key makes a point written twice one point.
      const points = database.createObjectStore('points', { keyPath: ['client_uuid', 'seq'] });
      points.createIndex('patroller', 'patroller');
      // The recorder's own device key per patroller: {patroller, device_id, key}.
      database.createObjectStore('devices', { keyPath: 'patroller' });
    },
    // The sign-out deletes the queue once it is empty: an open page lets go rather than block it.
    blocking() {
      db.close();
    },
  });
  return new Queue(db, name);
}

/** Remove the whole queue (sign-out, once nothing waits). */
export async function destroyQueue(name = DB_NAME) {
  await deleteDB(name);
}

/** Whether a walk still has something the server has not confirmed. */
export function walkWaiting(walk) {
  return !walk.refused && (!walk.start_synced || (walk.state === 'stopped' && !walk.end_synced));
}

// What the uploader learns about a walk; the recorder's own saves never overwrite these.
const SYNC_FIELDS = ['start_synced', 'end_synced', 'server_id', 'result', 'refused'];

function keepSynced(walk, stored) {
  if (!stored) return walk;
  const merged = { ...walk };
  for (const field of SYNC_FIELDS) if (field in stored) merged[field] = stored[field];
  return merged;
}

export class Queue {
  constructor(db, name) {
    this.db = db;
    this.name = name;
  }

  close() {
    this.db.close();
  }

  /** Store the recorder's walk as it is now, keeping what the uploader recorded of it (one transaction). */
  async saveWalk(walk) {
    const tx = this.db.transaction('walks', 'readwrite');
    const stored = await tx.store.get(walk.client_uuid);
    await Promise.all([tx.store.put(keepSynced(walk, stored)), tx.done]);
  }

  /** Set the uploader's fields of a stored walk (one transaction): the recorder's figures stay as they are. */
  async patchWalk(clientUuid, fields) {
    const tx = this.db.transaction('walks', 'readwrite');
    const stored = await tx.store.get(clientUuid);
    if (stored) await tx.store.put({ ...stored, ...fields });
    await tx.done;
  }

  async walk(clientUuid) {
    return this.db.get('walks', clientUuid);
  }

  /** The patroller's walks, oldest first. */
  async walks(patroller) {
    const walks = await this.db.getAllFromIndex('walks', 'patroller', patroller);
    return walks.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  /** The walk still recording or paused, if any. */
  async runningWalk(patroller) {
    return (await this.walks(patroller)).find((walk) => walk.state === 'recording' || walk.state === 'paused');
  }

  /** Write a point and the walk's new figures in one transaction: both or neither. */
  async recordPoint(walk, point) {
    const tx = this.db.transaction(['walks', 'points'], 'readwrite');
    const walks = tx.objectStore('walks');
    const stored = await walks.get(walk.client_uuid);
    await Promise.all([tx.objectStore('points').put(point), walks.put(keepSynced(walk, stored)), tx.done]);
  }

  /** Up to `limit` of one walk's unsent points, in sequence order. */
  async walkPoints(clientUuid, limit) {
    return this.db.getAll('points', IDBKeyRange.bound([clientUuid, 0], [clientUuid, Infinity]), limit);
  }

  /** Up to `limit` of the patroller's unsent points, walk by walk in sequence order. */
  async pendingPoints(patroller, limit) {
    // An index returns its records in primary-key order within one index key: [client_uuid, seq].
    return this.db.getAllFromIndex('points', 'patroller', patroller, limit);
  }

  /** Delete points the server confirmed. */
  async removePoints(points) {
    const tx = this.db.transaction('points', 'readwrite');
    await Promise.all([...points.map((point) => tx.store.delete([point.client_uuid, point.seq])), tx.done]);
  }

  async pointsWaiting(patroller) {
    return this.db.countFromIndex('points', 'patroller', patroller);
  }

  /** What is still to upload, for the patroller or (no patroller) for anyone on this phone. */
  async waiting(patroller) {
    const walks = patroller === undefined ? await this.db.getAll('walks') : await this.walks(patroller);
    const points = patroller === undefined ? await this.db.count('points') : await this.pointsWaiting(patroller);
    return {
      points,
      walks: walks.filter(walkWaiting).length,
      running: walks.filter((walk) => walk.state === 'recording' || walk.state === 'paused').length,
      refused: walks.filter((walk) => walk.refused).length,
    };
  }

  /** Forget walks that are fully uploaded and older than `keepMs` (their figures live on the server). */
  async pruneWalks(patroller, { now, keepMs }) {
    for (const walk of await this.walks(patroller)) {
      if (!walkWaiting(walk) && walk.state === 'stopped' && now - Date.parse(walk.end) > keepMs) {
        await this.db.delete('walks', walk.client_uuid);
      }
    }
  }

  async device(patroller) {
    return this.db.get('devices', patroller);
  }

  async saveDevice(device) {
    await this.db.put('devices', device);
  }

  async forgetDevice(patroller) {
    await this.db.delete('devices', patroller);
  }
}
