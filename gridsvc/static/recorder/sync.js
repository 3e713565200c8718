// Uploading the queue: a walk's start, then its points in batches, then its stop; each deleted
// locally only once the server answered that it holds it. Authenticated by the recorder's own
// device key, never the sign-in, so an expired sign-in or a new CSRF token loses nothing.

export const BATCH_SIZE = 500; // the server takes up to 1,000 points a batch
const MIN_DELAY_MS = 2000;
const MAX_DELAY_MS = 60000;

/** How long to wait before the next try: Retry-After when the server gave one, else doubling from 2 s to 60 s. */
export function retryDelayMs(failures, retryAfterSeconds) {
  if (Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) return Math.min(retryAfterSeconds * 1000, 10 * MAX_DELAY_MS);
  if (failures <= 0) return 0;
  return Math.min(MIN_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
}

/** Retry-After in seconds (a number of seconds or an HTTP date), or NaN. */
export function parseRetryAfter(value, now) {
  if (value === null || value === undefined || value === '') return NaN;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? NaN : Math.max(0, (when - now) / 1000);
}

/** A queued point as Traccar Client 9 JSON sends it. */
export function traccarLocation(fix) {
  return {
    timestamp: new Date(fix.timestamp).toISOString(),
    coords: {
      latitude: fix.lat,
      longitude: fix.lon,
      accuracy: fix.accuracy ?? null,
      speed: fix.speed ?? null,
      heading: fix.heading ?? null,
      altitude: fix.altitude ?? null,
    },
    event: fix.event ?? null,
  };
}

export class SyncError extends Error {
  constructor(kind, { status = null, retryAfter = NaN, code = null, message = '' } = {}) {
    super(message || kind);
    this.kind = kind; // 'offline' | 'busy' | 'refused' | 'device' | 'server'
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = code;
  }
}

export class Uploader {
  constructor({ queue, patroller, fetch, now = () => Date.now(), batchSize = BATCH_SIZE, base = '' }) {
    this.queue = queue;
    this.patroller = patroller;
    this.fetch = fetch;
    this.now = now;
    this.batchSize = batchSize;
    this.base = base;
  }

  async post(path, body) {
    let response;
    try {
      response = await this.fetch(this.base + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
        credentials: 'omit', // the device key is the credential
        cache: 'no-store',
      });
    } catch (error) {
      throw new SyncError('offline', { message: String(error) });
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    if (response.ok) {
      // A 200 that is no JSON of ours (a captive portal's page): not an answer of the server's.
      if (answer === null || typeof answer !== 'object') throw new SyncError('server', { status: response.status });
      return answer;
    }
    const retryAfter = parseRetryAfter(response.headers.get('Retry-After'), this.now());
    const detail = answer && answer.error ? answer.error : {};
    if (response.status === 429 || response.status === 503) throw new SyncError('busy', { status: response.status, retryAfter });
    if (response.status >= 500) throw new SyncError('server', { status: response.status });
    if (detail.code === 'unknown_device') throw new SyncError('device', { status: response.status, code: detail.code });
    throw new SyncError('refused', { status: response.status, code: detail.code || null, message: detail.message || '' });
  }

  /**
   * Upload what waits, walk by walk in start order: its start, its points, then its stop (a walk
   * must be stopped on the server before the next one can start there). Returns {sent, stopped};
   * throws a SyncError when it had to give up (what was confirmed before stays confirmed). A walk the
   * server refuses is marked refused, kept with its points, shown to the walker, and skipped.
   */
  async syncOnce() {
    const device = await this.queue.device(this.patroller);
    if (!device) throw new SyncError('device', { code: 'no_device' });
    let sent = 0;
    const stopped = [];
    for (const listed of await this.queue.walks(this.patroller)) {
      if (listed.refused) continue;
      try {
        if (!listed.start_synced) {
          const answer = await this.post('/api/v1/patrols/recorder', this.sessionBody(device, listed, false));
          await this.queue.patchWalk(listed.client_uuid, { start_synced: true, server_id: answer.id });
        }
        // Its points are on duty once its start is stored.
        for (;;) {
          const points = await this.queue.walkPoints(listed.client_uuid, this.batchSize);
          if (points.length === 0) break;
          const answer = await this.post('/api/v1/positions/recorder', {
            device_id: device.key,
            location: points.map((point) => traccarLocation(point.fix)),
          });
          if (answer.received !== points.length) {
            throw new SyncError('server', { message: 'the server answered for another number of points' });
          }
          await this.queue.removePoints(points);
          sent += points.length;
        }
        const walk = await this.queue.walk(listed.client_uuid); // as it is now: it may have stopped meanwhile
        if (walk.state !== 'stopped') break; // still recording: later walks wait for its stop
        if (!walk.end_synced) {
          const answer = await this.post('/api/v1/patrols/recorder', this.sessionBody(device, walk, true));
          const result = {
            id: answer.id,
            status: answer.status,
            claimed_seconds: answer.claimed_seconds,
            claimed_hours: answer.claimed_hours,
            verified_seconds: answer.verified_seconds,
            verified_hours: answer.verified_hours,
          };
          await this.queue.patchWalk(walk.client_uuid, { end_synced: true, result });
          stopped.push({ ...walk, end_synced: true, result });
        }
      } catch (error) {
        if (!(error instanceof SyncError) || error.kind !== 'refused') throw error;
        await this.queue.patchWalk(listed.client_uuid, { refused: { code: error.code, message: error.message } });
        this.refusals = (this.refusals || 0) + 1;
      }
    }
    return { sent, stopped };
  }

  sessionBody(device, walk, withEnd) {
    const body = { device_id: device.key, client_uuid: walk.client_uuid, kind: walk.kind, start: walk.start };
    if (walk.task_id !== null && walk.task_id !== undefined) body.task_id = walk.task_id;
    if (withEnd) {
      body.end = walk.end;
      if (walk.trimmed_from) body.trimmed_from = walk.trimmed_from;
    }
    return body;
  }
}
