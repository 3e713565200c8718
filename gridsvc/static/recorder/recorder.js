// The walk being recorded: start, pause, resume, stop, each fix stored with the fix's own time.
// No DOM here: the page feeds it fixes and visibility changes and shows what it answers.
import { haversineMetres } from './geo.js';

export const DEFAULT_RULES = {
  // A move this far from where the walker stood counts as movement (GPS scatter is ~10-40 m).
  idleRadiusM: 50,
  idleMinutes: 20,
  // Fixes worse than this are kept (the server judges them) but do not add to the distance shown.
  distanceAccuracyM: 100,
};

/** A Geolocation position as the queue stores it: the fix's own timestamp, never the clock's. */
export function fixFromPosition(position) {
  const c = position.coords;
  const number = (value) => (value === null || value === undefined || Number.isNaN(value) ? null : value);
  return {
    timestamp: position.timestamp,
    lat: c.latitude,
    lon: c.longitude,
    accuracy: number(c.accuracy),
    speed: number(c.speed),
    heading: number(c.heading),
    altitude: number(c.altitude),
  };
}

export class RecorderError extends Error {
  constructor(code) {
    super(code);
    this.code = code; // 'no_fix' | 'already_running' | 'not_running' | 'bad_end'
  }
}

export class Recorder {
  constructor({ queue, patroller, now = () => Date.now(), uuid = () => crypto.randomUUID(), rules = {} }) {
    this.queue = queue;
    this.patroller = patroller;
    this.now = now;
    this.uuid = uuid;
    this.rules = { ...DEFAULT_RULES, ...rules };
    this.walk = null;
    this.lastFix = null;
    this.hiddenSince = null;
  }

  /** Take up the walk left running by an earlier page (closed tab, restarted phone). */
  async restore() {
    this.walk = (await this.queue.runningWalk(this.patroller)) || null;
    return this.walk;
  }

  get state() {
    return this.walk ? this.walk.state : 'idle';
  }

  /** Start a walk at the first fix onwards; refused until there is a fix. */
  async start({ kind, taskId = null }) {
    if (this.walk) throw new RecorderError('already_running');
    if (!this.lastFix) throw new RecorderError('no_fix');
    const at = this.now();
    this.walk = {
      client_uuid: this.uuid(),
      patroller: this.patroller,
      kind,
      task_id: taskId,
      start: new Date(at).toISOString(),
      end: null,
      state: 'recording',
      seq: 0,
      distance_m: 0,
      last_point: null,
      accuracy: this.lastFix.accuracy,
      anchor: { lat: this.lastFix.lat, lon: this.lastFix.lon, at },
      pauses: [],
      gaps: [],
      start_synced: false,
      end_synced: false,
    };
    await this.queue.saveWalk(this.walk);
    return this.walk;
  }

  /** A new fix from watchPosition: stored when recording, remembered always. */
  async onFix(fix) {
    this.lastFix = fix;
    if (!this.walk || this.walk.state !== 'recording') return false;
    return this.addPoint(fix);
  }

  async addPoint(fix) {
    const walk = this.walk;
    const previous = walk.last_point;
    // A fix no newer than the last one stored is the same fix repeated (watchPosition may do so).
    if (previous && fix.timestamp <= previous.timestamp) return false;
    // The server keeps a point only within its session: one fixed before the start would be lost.
    if (fix.timestamp < Date.parse(walk.start)) return false;
    if (previous && (fix.accuracy === null || fix.accuracy <= this.rules.distanceAccuracyM)) {
      walk.distance_m += haversineMetres(previous, fix);
    }
    if (haversineMetres(walk.anchor, fix) > this.rules.idleRadiusM) {
      walk.anchor = { lat: fix.lat, lon: fix.lon, at: fix.timestamp };
    }
    const seq = walk.seq;
    walk.seq = seq + 1;
    walk.last_point = { lat: fix.lat, lon: fix.lon, timestamp: fix.timestamp };
    walk.accuracy = fix.accuracy;
    await this.queue.recordPoint(walk, { client_uuid: walk.client_uuid, seq, patroller: this.patroller, fix });
    return true;
  }

  async pause() {
    if (!this.walk || this.walk.state !== 'recording') throw new RecorderError('not_running');
    this.walk.state = 'paused';
    this.walk.pauses.push({ from: this.now(), to: null });
    await this.queue.saveWalk(this.walk);
  }

  async resume() {
    if (!this.walk || this.walk.state !== 'paused') throw new RecorderError('not_running');
    this.walk.state = 'recording';
    const at = this.now();
    this.walk.pauses[this.walk.pauses.length - 1].to = at;
    this.walk.anchor = { ...this.walk.anchor, at };
    await this.queue.saveWalk(this.walk);
  }

  /** Stop now, or at an earlier `end` (ms) the walker chose: the trim is kept with the walk and sent. */
  async stop({ end = null } = {}) {
    if (!this.walk || (this.walk.state !== 'recording' && this.walk.state !== 'paused')) {
      throw new RecorderError('not_running');
    }
    const at = this.now();
    const start = Date.parse(this.walk.start);
    if (end !== null && !(end > start && end <= at)) throw new RecorderError('bad_end');
    const walk = this.walk;
    if (walk.state === 'paused') walk.pauses[walk.pauses.length - 1].to = at;
    walk.state = 'stopped';
    walk.end = new Date(end === null ? at : end).toISOString();
    if (end !== null) walk.trimmed_from = new Date(at).toISOString();
    if (this.hiddenSince !== null) this.visible();
    await this.queue.saveWalk(walk);
    this.walk = null;
    return walk;
  }

  /** The page went to the background: browsers stop geolocation there, so the time is a gap. */
  hidden() {
    if (this.hiddenSince === null) this.hiddenSince = this.now();
  }

  /** The page is back: the hidden interval is kept as a gap of the running walk. */
  async visible() {
    if (this.hiddenSince === null) return null;
    const gap = { from: this.hiddenSince, to: this.now() };
    this.hiddenSince = null;
    if (!this.walk || this.walk.state !== 'recording') return null;
    this.walk.gaps.push(gap);
    await this.queue.saveWalk(this.walk);
    return gap;
  }

  /** Elapsed ms, distance, points and the last accuracy of the running walk. */
  stats(walk = this.walk) {
    if (!walk) return null;
    const end = walk.end ? Date.parse(walk.end) : this.now();
    return {
      elapsedMs: Math.max(0, end - Date.parse(walk.start)),
      distanceM: walk.distance_m,
      points: walk.seq,
      accuracyM: walk.accuracy,
      gaps: walk.gaps.length,
    };
  }

  /** Milliseconds since the walker last moved beyond the idle radius (0 while paused or stopped). */
  idleMs() {
    if (!this.walk || this.walk.state !== 'recording') return 0;
    return Math.max(0, this.now() - this.walk.anchor.at);
  }

  /** Whether the walk has stood still for the configured minutes: the page then asks and may stop. */
  isIdle() {
    return this.idleMs() >= this.rules.idleMinutes * 60000;
  }
}
