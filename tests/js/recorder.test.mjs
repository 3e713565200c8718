// JS unit tests of the phone recorder: its IndexedDB queue (idb over fake-indexeddb), the uploader's
// order, retries and confirmations, and the recorder's states.
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { it, describe, beforeEach, afterEach } from 'mocha';
import { openQueue, destroyQueue } from '../../gridsvc/static/recorder/queue.js';
import { Uploader, SyncError, retryDelayMs, parseRetryAfter, traccarLocation } from '../../gridsvc/static/recorder/sync.js';
import { Recorder, RecorderError, fixFromPosition } from '../../gridsvc/static/recorder/recorder.js';
import { haversineMetres, insideArea } from '../../gridsvc/static/recorder/geo.js';

let dbCount = 0;

// A server as the recorder sees it: sessions by client_uuid, points by device and time (a replay
// stores nothing twice), each answer able to fail first.
class FakeServer {
  constructor() {
    this.sessions = new Map();
    this.points = new Map();
    this.calls = [];
    this.failures = []; // {path, status | 'network', retryAfter}
  }

  fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    this.calls.push({ url, body });
    const failure = this.failures.findIndex((f) => url.endsWith(f.path));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      if (f.status === 'network') throw new TypeError('Failed to fetch');
      return response(f.status, { error: { code: f.code || 'busy', message: 'try later' } }, f.retryAfter);
    }
    if (body.device_id !== 'KEY-1') return response(404, { error: { code: 'unknown_device', message: 'Unknown' } });
    if (url.endsWith('/api/v1/patrols/recorder')) {
      if (this.refuseStarts && this.refuseStarts.includes(body.client_uuid)) {
        return response(422, { error: { code: 'start_out_of_range', message: 'too old' } });
      }
      const open = [...this.sessions.entries()].find(([uuid, s]) => uuid !== body.client_uuid && !s.end);
      if (!this.sessions.has(body.client_uuid) && open) {
        return response(409, { error: { code: 'session_already_open', message: 'already running' } });
      }
      const known = this.sessions.get(body.client_uuid) || { id: this.sessions.size + 1, start: body.start, end: null };
      if (body.end && !known.end) known.end = body.end;
      this.sessions.set(body.client_uuid, known);
      const claimed = known.end ? (Date.parse(known.end) - Date.parse(known.start)) / 1000 : null;
      return response(200, { id: known.id, status: known.end ? 'logged' : 'open', claimed_seconds: claimed,
        claimed_hours: claimed === null ? null : Math.round(claimed / 36) / 100, verified_seconds: claimed,
        verified_hours: claimed === null ? null : Math.round(claimed / 36) / 100 });
    }
    let stored = 0;
    for (const location of body.location) {
      if (!this.points.has(location.timestamp)) {
        this.points.set(location.timestamp, location);
        stored += 1;
      }
    }
    return response(200, { received: body.location.length, stored, replays: body.location.length - stored, off_duty: 0 });
  };
}

function response(status, json, retryAfter) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => (name === 'Retry-After' && retryAfter !== undefined ? String(retryAfter) : null) },
    json: async () => json,
  };
}

function position(seconds, lat, lon, accuracy = 5) {
  return { timestamp: Date.UTC(2026, 11, 3, 6, 0, seconds), coords: { latitude: lat, longitude: lon, accuracy, speed: null,
    heading: null, altitude: null } };
}

describe('phone recorder', () => {
  let queue;
  let name;
  let clock;

  beforeEach(async () => {
    dbCount += 1;
    name = `recorder-test-${dbCount}`;
    queue = await openQueue(name);
    clock = { t: Date.UTC(2026, 11, 3, 6, 0, 0) };
  });

  afterEach(async () => {
    queue.close();
    await destroyQueue(name);
  });

  function recorder(rules) {
    let n = 0;
    return new Recorder({ queue, patroller: 'XLXQ000018', now: () => clock.t, uuid: () => `00000000-0000-4000-8000-00000000000${++n}`, rules });
  }

  async function walk_(rec, from, count) {
    for (let s = from; s < from + count; s += 1) {
      clock.t = Date.UTC(2026, 11, 3, 6, 0, s);
      await rec.onFix(fixFromPosition(position(s, 24.0 + s * 0.0001, 117.6)));
    }
  }

  async function walk(rec, seconds, { step = 0.0001 } = {}) {
    for (let s = 1; s <= seconds; s += 1) {
      clock.t = Date.UTC(2026, 11, 3, 6, 0, s);
      await rec.onFix(fixFromPosition(position(s, 24.0 + s * step, 117.6)));
    }
  }

  it('refuses to start before a first fix, then stores each fix once with its own timestamp', async () => {
    const rec = recorder();
    await assert.rejects(rec.start({ kind: 'individual' }), (e) => e instanceof RecorderError && e.code === 'no_fix');
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 30);
    // watchPosition repeating its last fix adds nothing
    await rec.onFix(fixFromPosition(position(30, 24.003, 117.6)));
    const points = await queue.pendingPoints('XLXQ000018');
    assert.equal(points.length, 30);
    assert.deepEqual(points.map((p) => p.seq), [...Array(30).keys()]);
    assert.equal(points[0].fix.timestamp, Date.UTC(2026, 11, 3, 6, 0, 1));
    const expected = 29 * haversineMetres({ lat: 24.0, lon: 117.6 }, { lat: 24.0001, lon: 117.6 });
    assert.ok(Math.abs(rec.stats().distanceM - expected) < 0.01, `${rec.stats().distanceM} vs ${expected}`);
  });

  it('records no point while paused and keeps the pause', async () => {
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 10);
    await rec.pause();
    for (let s = 11; s <= 20; s += 1) await rec.onFix(fixFromPosition(position(s, 24.0 + s * 0.0001, 117.6)));
    clock.t = Date.UTC(2026, 11, 3, 6, 0, 20);
    await rec.resume();
    for (let s = 21; s <= 25; s += 1) await rec.onFix(fixFromPosition(position(s, 24.0 + s * 0.0001, 117.6)));
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 15);
    const stored = await queue.walk(rec.walk.client_uuid);
    assert.deepEqual(stored.pauses, [{ from: Date.UTC(2026, 11, 3, 6, 0, 10), to: Date.UTC(2026, 11, 3, 6, 0, 20) }]);
  });

  it('takes up a running walk after the page was closed', async () => {
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    const started = await rec.start({ kind: 'group', taskId: 7 });
    await walk(rec, 5);
    const again = recorder();
    const restored = await again.restore();
    assert.equal(restored.client_uuid, started.client_uuid);
    assert.equal(restored.seq, 5);
    clock.t = Date.UTC(2026, 11, 3, 6, 0, 6);
    await again.onFix(fixFromPosition(position(6, 24.1, 117.6)));
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 6);
  });

  it('trims the end only to a moment inside the walk, and says it was trimmed', async () => {
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 60);
    await assert.rejects(rec.stop({ end: Date.UTC(2026, 11, 3, 5, 0, 0) }), (e) => e.code === 'bad_end');
    const stopped = await rec.stop({ end: Date.UTC(2026, 11, 3, 6, 0, 40) });
    assert.equal(stopped.end, '2026-12-03T06:00:40.000Z');
    assert.equal(stopped.trimmed_from, '2026-12-03T06:01:00.000Z');
    assert.equal(rec.state, 'idle');
  });

  it('counts the hidden page as a gap of the running walk', async () => {
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    clock.t += 5000;
    rec.hidden();
    clock.t += 120000;
    const gap = await rec.visible();
    assert.equal(gap.to - gap.from, 120000);
    assert.equal((await queue.walk(rec.walk.client_uuid)).gaps.length, 1);
  });

  it('is idle after the configured minutes within the radius, not while walking', async () => {
    const rec = recorder({ idleMinutes: 1 });
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    // standing still with 20 m of scatter for 59 s: not yet idle
    for (let s = 1; s <= 59; s += 1) {
      clock.t = Date.UTC(2026, 11, 3, 6, 0, s);
      await rec.onFix(fixFromPosition(position(s, 24.0 + (s % 2) * 0.00018, 117.6)));
    }
    assert.equal(rec.isIdle(), false);
    clock.t = Date.UTC(2026, 11, 3, 6, 1, 1);
    assert.equal(rec.isIdle(), true);
    // a 60 m step is movement
    await rec.onFix(fixFromPosition(position(61, 24.00054, 117.6)));
    assert.equal(rec.isIdle(), false);
  });

  it('uploads start, points in batches, then the stop; deletes only what the server confirmed', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 120);
    clock.t = Date.UTC(2026, 11, 3, 6, 2, 0);
    await rec.stop();
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: server.fetch, batchSize: 50, now: () => clock.t });
    server.failures.push({ path: '/api/v1/positions/recorder', status: 'network' });
    await assert.rejects(uploader.syncOnce(), (e) => e instanceof SyncError && e.kind === 'offline');
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 120, 'nothing deleted without an answer');
    server.failures.push({ path: '/api/v1/positions/recorder', status: 503, retryAfter: 7 });
    await assert.rejects(uploader.syncOnce(), (e) => e.kind === 'busy' && e.retryAfter === 7);
    const result = await uploader.syncOnce();
    assert.equal(result.sent, 120);
    assert.equal(server.points.size, 120);
    assert.deepEqual((await queue.waiting('XLXQ000018')), { points: 0, walks: 0, running: 0, refused: 0 });
    const paths = server.calls.map((c) => c.url.replace('/api/v1/', '') + (c.body.end ? '+end' : ''));
    assert.equal(paths[0], 'patrols/recorder');
    assert.equal(paths.at(-1), 'patrols/recorder+end');
    assert.equal(result.stopped[0].result.claimed_seconds, 120);
    // syncing again sends nothing
    const calls = server.calls.length;
    assert.equal((await uploader.syncOnce()).sent, 0);
    assert.equal(server.calls.length, calls);
  });

  it('sends a batch the server stored but whose answer was lost again: stored once', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 10);
    const lossy = async (url, init) => {
      const answer = await server.fetch(url, init);
      if (url.endsWith('/positions/recorder') && server.calls.filter((c) => c.url.endsWith('/positions/recorder')).length === 1) {
        throw new TypeError('connection reset');
      }
      return answer;
    };
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: lossy });
    await assert.rejects(uploader.syncOnce());
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 10);
    await uploader.syncOnce();
    assert.equal(server.points.size, 10);
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 0);
  });

  it('never sends one patroller\'s queue with another\'s key, and waits for a device key', async () => {
    const server = new FakeServer();
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 3);
    await queue.saveDevice({ patroller: 'XLXQ000001', device_id: 9, key: 'KEY-1' });
    const other = new Uploader({ queue, patroller: 'XLXQ000001', fetch: server.fetch });
    assert.equal((await other.syncOnce()).sent, 0);
    const mine = new Uploader({ queue, patroller: 'XLXQ000018', fetch: server.fetch });
    await assert.rejects(mine.syncOnce(), (e) => e.kind === 'device' && e.code === 'no_device');
    assert.equal(server.points.size, 0);
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 3);
  });

  it('a revoked key is a device error, and the points stay', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'REVOKED' });
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    await walk(rec, 3);
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: server.fetch });
    await assert.rejects(uploader.syncOnce(), (e) => e.kind === 'device' && e.code === 'unknown_device');
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 3);
  });

  async function walkOf(rec, from, seconds) {
    clock.t = Date.UTC(2026, 11, 3, 6, 0, from);
    await rec.onFix(fixFromPosition(position(from, 24.0, 117.6)));
    await rec.start({ kind: 'individual' });
    for (let s = from + 1; s <= from + seconds; s += 1) {
      clock.t = Date.UTC(2026, 11, 3, 6, 0, s);
      await rec.onFix(fixFromPosition(position(s, 24.0 + s * 0.0001, 117.6)));
    }
    clock.t = Date.UTC(2026, 11, 3, 6, 0, from + seconds);
    return rec.stop();
  }

  it('uploads walk by walk: the first one stopped before the next one starts on the server', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    const first = await walkOf(rec, 0, 10);
    // Its start went up; then the network went, the walk was stopped, and a second one recorded.
    await queue.patchWalk(first.client_uuid, { start_synced: true });
    server.sessions.set(first.client_uuid, { id: 1, start: first.start, end: null });
    const second = await walkOf(rec, 20, 10);
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: server.fetch });
    const result = await uploader.syncOnce();
    assert.equal(result.sent, 20);
    assert.deepEqual(result.stopped.map((w) => w.client_uuid), [first.client_uuid, second.client_uuid]);
    assert.deepEqual(await queue.waiting('XLXQ000018'), { points: 0, walks: 0, running: 0, refused: 0 });
  });

  it('a walk the server refuses is kept with its points and marked, and the next one still goes up', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    const old = await walkOf(rec, 0, 5);
    const fresh = await walkOf(rec, 20, 5);
    server.refuseStarts = [old.client_uuid];
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: server.fetch });
    const result = await uploader.syncOnce();
    assert.deepEqual(result.stopped.map((w) => w.client_uuid), [fresh.client_uuid]);
    assert.equal((await queue.walk(old.client_uuid)).refused.code, 'start_out_of_range');
    assert.deepEqual(await queue.waiting('XLXQ000018'), { points: 5, walks: 0, running: 0, refused: 1 });
    assert.equal((await queue.walkPoints(old.client_uuid)).length, 5);
  });

  it('a stop during an upload stays a stop, and the sequence is never rolled back', async () => {
    const server = new FakeServer();
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    await rec.onFix(fixFromPosition(position(0, 24.0, 117.6)));
    const walk = await rec.start({ kind: 'individual' });
    await walk_(rec, 1, 5);
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const slow = async (url, init) => {
      if (url.endsWith('/patrols/recorder') && !JSON.parse(init.body).end) await gate;
      return server.fetch(url, init);
    };
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: slow });
    const syncing = uploader.syncOnce();
    await walk_(rec, 6, 5); // recorded while the start is in flight
    clock.t = Date.UTC(2026, 11, 3, 6, 0, 11);
    await rec.stop();
    release();
    await syncing;
    const stored = await queue.walk(walk.client_uuid);
    assert.equal(stored.state, 'stopped');
    assert.equal(stored.seq, 10);
    assert.equal(stored.start_synced, true);
    await uploader.syncOnce(); // the stop goes up now
    assert.equal((await queue.walk(walk.client_uuid)).end_synced, true);
    assert.equal(server.points.size, 10);
  });

  it('a 200 that is not the server\'s JSON is no answer: nothing is deleted', async () => {
    await queue.saveDevice({ patroller: 'XLXQ000018', device_id: 3, key: 'KEY-1' });
    const rec = recorder();
    await walkOf(rec, 0, 3);
    const portal = async () => ({ ok: true, status: 200, headers: { get: () => null }, json: async () => { throw new SyntaxError('html'); } });
    const uploader = new Uploader({ queue, patroller: 'XLXQ000018', fetch: portal });
    await assert.rejects(uploader.syncOnce(), (e) => e instanceof SyncError && e.kind === 'server');
    assert.equal(await queue.pointsWaiting('XLXQ000018'), 3);
  });

  it('backs off from 2 s to 60 s and honours Retry-After', () => {
    assert.deepEqual([0, 1, 2, 3, 6, 7, 20].map((n) => retryDelayMs(n)), [0, 2000, 4000, 8000, 60000, 60000, 60000]);
    assert.equal(retryDelayMs(3, 30), 30000);
    assert.equal(parseRetryAfter('120', 0), 120);
    assert.equal(parseRetryAfter('Thu, 03 Dec 2026 06:00:30 GMT', Date.UTC(2026, 11, 3, 6, 0, 0)), 30);
    assert.ok(Number.isNaN(parseRetryAfter(null, 0)));
  });

  it('sends a point as Traccar Client JSON with the fix time', () => {
    const fix = fixFromPosition(position(5, 24.01, 117.61, 8));
    assert.deepEqual(traccarLocation(fix), { timestamp: '2026-12-03T06:00:05.000Z', coords: { latitude: 24.01,
      longitude: 117.61, accuracy: 8, speed: null, heading: null, altitude: null }, event: null });
  });

  it('tells inside from outside an area, holes included', () => {
    const square = { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]] };
    assert.equal(insideArea(1, 1, square), true);
    assert.equal(insideArea(5, 5, square), false);
    assert.equal(insideArea(11, 1, square), false);
    assert.equal(insideArea(21, 1, { type: 'MultiPolygon', coordinates: [square.coordinates, [[[20, 0], [22, 0], [22, 2], [20, 0]]]] }), true);
    assert.equal(insideArea(1, 1, null), null);
  });
});
