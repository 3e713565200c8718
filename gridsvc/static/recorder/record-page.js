// The phone recorder's page: geolocation, wake lock, the buttons, the map and the upload loop.
// Everything the walker records goes to the IndexedDB queue first (queue.js); the uploader
// (sync.js) sends it with the recorder's own device key whenever there is a network.
import { openQueue } from './queue.js';
import { Recorder, RecorderError, fixFromPosition } from './recorder.js';
import { Uploader, SyncError, retryDelayMs } from './sync.js';
import { insideArea } from './geo.js';

const config = JSON.parse(document.getElementById('recorder-config').textContent);
const messages = JSON.parse(document.getElementById('recorder-messages').textContent);
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const SYNC_INTERVAL_MS = 5000;
const KEEP_STOPPED_WALKS_MS = 7 * 24 * 3600 * 1000;

function say(key, values = {}) {
  // {name} placeholders: Jinja's gettext would apply %-formatting to %(name)s in the template.
  return (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

function show(id, visible) {
  const element = $(id);
  if (element) element.hidden = !visible;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

function clockText(ms) {
  const seconds = Math.floor(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------------------
// The map: the station's (or task's) area and the track so far; no tiles (an intranet).
// ------------------------------------------------------------------------------------------
class TrackMap {
  constructor(container) {
    this.map = null;
    this.container = container;
    this.area = null;
    this.line = null;
    this.marker = null;
    this.fitted = false;
  }

  ready() {
    if (this.map || typeof window.L === 'undefined' || !this.container) return Boolean(this.map);
    this.map = window.L.map(this.container, { attributionControl: false, zoomSnap: 0.25 });
    this.map.setView([24.0, 117.6], 12);
    this.line = window.L.polyline([], { color: '#c62828', weight: 4 }).addTo(this.map);
    return true;
  }

  setArea(geometry) {
    if (!this.ready()) return;
    if (this.area) this.area.remove();
    this.area = geometry ? window.L.geoJSON(geometry, { style: { color: '#1565c0', weight: 2, fillOpacity: 0.05 } }).addTo(this.map) : null;
    if (this.area && this.line.getLatLngs().length === 0) this.map.fitBounds(this.area.getBounds(), { padding: [8, 8] });
  }

  setTrack(points) {
    if (!this.ready()) return;
    this.line.setLatLngs(points.map((p) => [p.lat, p.lon]));
  }

  addPoint(point) {
    if (!this.ready()) return;
    this.line.addLatLng([point.lat, point.lon]);
  }

  here(fix) {
    if (!this.ready()) return;
    const at = [fix.lat, fix.lon];
    if (!this.marker) this.marker = window.L.circleMarker(at, { radius: 7, color: '#2e7d32', fillOpacity: 0.9 }).addTo(this.map);
    this.marker.setLatLng(at);
    if (!this.fitted && !this.area) {
      this.map.setView(at, 16);
      this.fitted = true;
    }
  }

  /** While recording: close in on the walker once, then keep them in view. */
  follow(fix) {
    if (!this.ready()) return;
    const at = window.L.latLng(fix.lat, fix.lon);
    if (!this.following) {
      this.map.setView(at, 17);
      this.following = true;
    } else if (!this.map.getBounds().pad(-0.2).contains(at)) {
      this.map.panTo(at);
    }
  }
}

// ------------------------------------------------------------------------------------------
// The page
// ------------------------------------------------------------------------------------------
class RecorderPage {
  constructor(queue) {
    this.queue = queue;
    this.patroller = config.patroller;
    this.recorder = new Recorder({
      queue,
      patroller: this.patroller,
      rules: { idleMinutes: config.idle.minutes, idleRadiusM: config.idle.radius_m },
    });
    this.uploader = new Uploader({ queue, patroller: this.patroller, fetch: (url, init) => window.fetch(url, init) });
    this.map = new TrackMap($('recorder-map'));
    this.failures = 0;
    this.syncTimer = null;
    this.syncing = false;
    this.syncAgain = false;
    this.wakeLock = null;
    this.idleAskedAt = null;
    this.outside = false;
    this.lastState = null;
  }

  async open() {
    const running = await this.recorder.restore();
    window.addEventListener('load', () => this.map.setArea(this.area()));
    if (document.readyState === 'complete') this.map.setArea(this.area());
    if (running) {
      const choice = running.task_id ? `task-${running.task_id}` : 'individual';
      const radio = document.querySelector(`input[name="what"][value="${choice}"]`);
      if (radio) radio.checked = true;
      this.map.setTrack((await this.queue.pendingPoints(this.patroller)).filter((p) => p.client_uuid === running.client_uuid).map((p) => p.fix));
      await this.wake();
    }
    await this.queue.pruneWalks(this.patroller, { now: Date.now(), keepMs: KEEP_STOPPED_WALKS_MS });
    this.bind();
    this.watch();
    this.render();
    await this.showLastResult();
    this.sync();
    setInterval(() => this.tick(), 1000);
  }

  area() {
    const chosen = this.chosen();
    const task = chosen.taskId ? config.tasks.find((t) => t.id === chosen.taskId) : null;
    return (task && task.area) || config.station.area;
  }

  chosen() {
    const value = (document.querySelector('input[name="what"]:checked') || { value: 'individual' }).value;
    return value.startsWith('task-') ? { kind: 'group', taskId: Number(value.slice(5)) } : { kind: 'individual', taskId: null };
  }

  bind() {
    $('patrol-start').addEventListener('click', () => this.start());
    $('patrol-pause').addEventListener('click', () => this.act(() => this.recorder.pause()));
    $('patrol-resume').addEventListener('click', () => this.act(() => this.recorder.resume()));
    $('patrol-stop').addEventListener('click', () => this.askStop());
    $('stop-now').addEventListener('click', () => this.stopFromForm());
    $('stop-cancel').addEventListener('click', () => show('stop-confirm', false));
    $('idle-continue').addEventListener('click', () => this.keepGoing());
    $('idle-stop').addEventListener('click', () => this.stopAtLastMovement());
    document.querySelectorAll('input[name="what"]').forEach((input) => input.addEventListener('change', () => this.map.setArea(this.area())));
    window.addEventListener('online', () => { this.failures = 0; this.sync(); });
    document.addEventListener('visibilitychange', () => this.visibility());
  }

  watch() {
    if (!('geolocation' in navigator)) {
      this.geoProblem('no_geolocation');
      return;
    }
    navigator.geolocation.watchPosition((position) => this.onPosition(position), (error) => this.onGeoError(error),
      { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
  }

  geoProblem(key) {
    $('geo-message').textContent = say(key);
    show('geo-problem', true);
  }

  onGeoError(error) {
    if (error.code === 1) this.geoProblem('denied');
    else if (error.code === 2) this.geoProblem('unavailable');
    else $('fix-state').textContent = say('timeout');
    this.render();
  }

  async onPosition(position) {
    const fix = fixFromPosition(position);
    show('geo-problem', false);
    const stored = await this.recorder.onFix(fix);
    $('fix-state').textContent = say('fix_ok', { m: fix.accuracy === null ? '–' : Math.round(fix.accuracy) });
    this.map.here(fix);
    if (stored) {
      this.map.addPoint(fix);
      this.map.follow(fix);
      const inside = insideArea(fix.lon, fix.lat, this.area());
      this.outside = inside === false;
      const inZone = insideArea(fix.lon, fix.lat, config.zone);
      this.outsideZone = inZone === false;
      if (!this.syncTimer) this.scheduleSync(SYNC_INTERVAL_MS);
    }
    this.render();
  }

  async act(action) {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof RecorderError)) throw error;
    }
    this.render();
  }

  async start() {
    const { kind, taskId } = this.chosen();
    try {
      await this.recorder.start({ kind, taskId });
    } catch (error) {
      if (error instanceof RecorderError && error.code === 'no_fix') {
        $('fix-state').textContent = say('fix_waiting');
        return;
      }
      throw error;
    }
    show('recorder-result', false);
    $('fix-state').textContent = say('started');
    this.map.setTrack([]);
    this.map.setArea(this.area());
    await this.wake();
    this.render();
    this.sync();
  }

  askStop() {
    const now = new Date();
    const input = $('trim-end');
    input.value = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
    input.dataset.initial = input.value;
    show('stop-confirm', true);
  }

  async stopFromForm() {
    const input = $('trim-end');
    let end = null;
    if (input.value && input.value !== input.dataset.initial) {
      const [h, m] = input.value.split(':').map(Number);
      const chosen = new Date();
      chosen.setHours(h, m, 0, 0);
      end = chosen.getTime();
    }
    await this.stop(end);
  }

  async stop(end) {
    try {
      await this.recorder.stop({ end });
    } catch (error) {
      if (error instanceof RecorderError && error.code === 'bad_end') {
        $('fix-state').textContent = say('bad_end');
        return;
      }
      throw error;
    }
    show('stop-confirm', false);
    show('idle-question', false);
    this.idleAskedAt = null;
    if (this.wakeLock) this.wakeLock.release().catch(() => {});
    this.wakeLock = null;
    $('result-text').textContent = say('result_waiting');
    show('recorder-result', true);
    this.render();
    this.failures = 0;
    this.sync();
  }

  keepGoing() {
    show('idle-question', false);
    this.idleAskedAt = null;
    const walk = this.recorder.walk;
    if (walk) walk.anchor = { ...walk.anchor, at: Date.now() };
  }

  async stopAtLastMovement() {
    const walk = this.recorder.walk;
    if (!walk) return;
    const lastMoved = walk.anchor.at;
    await this.stop(lastMoved > Date.parse(walk.start) && lastMoved < Date.now() - 60000 ? lastMoved : null);
  }

  async wake() {
    if (!('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
    try {
      this.wakeLock = await navigator.wakeLock.request('screen');
    } catch (error) {
      $('fix-state').textContent = say('wake_lock');
    }
  }

  async visibility() {
    if (document.visibilityState === 'hidden') {
      this.recorder.hidden();
      return;
    }
    await this.recorder.visible();
    if (this.recorder.state === 'recording' || this.recorder.state === 'paused') await this.wake();
    this.render();
    this.sync();
  }

  tick() {
    const walk = this.recorder.walk;
    if (walk && walk.state === 'recording') {
      $('stat-elapsed').textContent = clockText(this.recorder.stats().elapsedMs);
      const asking = this.idleAskedAt !== null;
      if (!asking && (this.recorder.isIdle() || this.outsideZone)) {
        this.idleAskedAt = Date.now();
        $('idle-text').textContent = this.outsideZone ? say('outside_zone') : say('idle', { n: config.idle.minutes });
        show('idle-question', true);
      } else if (asking && Date.now() - this.idleAskedAt > config.idle.answer_minutes * 60000) {
        this.stopAtLastMovement();
      }
    }
  }

  render() {
    const state = this.recorder.state;
    const walk = this.recorder.walk;
    const running = state === 'recording' || state === 'paused';
    const start = $('patrol-start');
    start.hidden = running;
    start.disabled = !this.recorder.lastFix;
    show('patrol-pause', state === 'recording');
    show('patrol-resume', state === 'paused');
    show('patrol-stop', running);
    show('recorder-stats', running);
    show('outside-area', running && this.outside);
    document.querySelectorAll('input[name="what"]').forEach((input) => { input.disabled = running; });
    if (state === 'paused') $('fix-state').textContent = say('paused');
    if (walk) {
      const stats = this.recorder.stats();
      $('stat-elapsed').textContent = clockText(stats.elapsedMs);
      $('stat-distance').textContent = (stats.distanceM / 1000).toFixed(2);
      $('stat-points').textContent = String(stats.points);
      $('stat-accuracy').textContent = stats.accuracyM === null || stats.accuracyM === undefined ? '–' : String(Math.round(stats.accuracyM));
      if (walk.gaps.length) {
        const minutes = Math.round(walk.gaps.reduce((sum, gap) => sum + (gap.to - gap.from), 0) / 60000);
        $('gaps-text').textContent = say('gaps', { n: walk.gaps.length, minutes });
        show('recorder-gaps', true);
      }
    }
    document.body.dataset.recorderState = state;
  }

  // ------------------------------------------------------------------------------------------
  // Upload
  // ------------------------------------------------------------------------------------------
  scheduleSync(delayMs) {
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => { this.syncTimer = null; this.sync(); }, delayMs);
  }

  async ensureDevice() {
    if (await this.queue.device(this.patroller)) return true;
    this.syncState(say('device_needed'));
    let response;
    try {
      response = await window.fetch('/api/v1/devices', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken() },
        body: JSON.stringify({ name: `${navigator.platform || 'phone'} recorder`.slice(0, 60), platform: 'gridsvc-recorder' }),
        redirect: 'manual',
      });
    } catch (error) {
      return false;
    }
    if (response.status !== 201) {
      this.deviceProblem = response.status === 0 || response.status === 401 || response.type === 'opaqueredirect' ? 'needs_signin' : 'device_failed';
      return false;
    }
    const device = await response.json();
    await this.queue.saveDevice({ patroller: this.patroller, device_id: device.id, key: device.key });
    return true;
  }

  async sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    let delay = null;
    try {
      // The key is registered while signed in and online, so a walk recorded later offline, or
      // after the sign-in expired, can still upload.
      const registered = await this.ensureDevice();
      const waiting = await this.queue.waiting(this.patroller);
      if (waiting.points === 0 && waiting.walks === 0) {
        this.failures = 0;
      } else if (!registered) {
        this.failures += 1;
        delay = retryDelayMs(this.failures);
        this.syncState(say(this.deviceProblem || 'device_failed'));
      } else {
        const result = await this.uploader.syncOnce();
        this.failures = 0;
        if (result.stopped.length) this.showResult(result.stopped.at(-1));
      }
    } catch (error) {
      if (!(error instanceof SyncError)) throw error;
      this.failures += 1;
      if (error.kind === 'device' && error.code === 'unknown_device') await this.queue.forgetDevice(this.patroller);
      delay = retryDelayMs(this.failures, error.kind === 'busy' ? error.retryAfter : NaN);
      this.lastError = error;
    } finally {
      this.syncing = false;
    }
    await this.renderSync();
    const waiting = await this.queue.waiting(this.patroller);
    if (this.syncAgain) {
      this.syncAgain = false;
      this.scheduleSync(delay ?? 0);
    } else if (delay !== null) {
      this.scheduleSync(delay);
    } else if (waiting.points || waiting.walks) {
      this.scheduleSync(SYNC_INTERVAL_MS);
    }
  }

  syncState(text) {
    $('sync-state').textContent = text;
  }

  async renderSync() {
    const waiting = await this.queue.waiting(this.patroller);
    const n = waiting.points;
    const refused = waiting.refused ? (await this.queue.walks(this.patroller)).find((walk) => walk.refused) : null;
    const state = refused ? 'refused' : waiting.points === 0 && waiting.walks === 0 ? 'synced'
      : this.failures === 0 ? 'waiting' : this.lastError && this.lastError.kind === 'busy' ? 'busy' : 'offline';
    const sayState = state === 'refused' ? say('refused', { message: refused.refused.message || refused.refused.code })
      : say(state, { n });
    const element = $('sync-state');
    element.dataset.state = state;
    element.dataset.waiting = String(n);
    this.syncState(sayState);
  }

  async showLastResult() {
    const walks = await this.queue.walks(this.patroller);
    const last = walks.filter((w) => w.state === 'stopped').at(-1);
    if (last && !this.recorder.walk) {
      if (last.result) this.showResult(last);
      else {
        $('result-text').textContent = say('result_waiting');
        show('recorder-result', true);
      }
    }
  }

  showResult(walk) {
    const r = walk.result;
    $('result-text').textContent = say('result', { claimed: Number(r.claimed_hours).toFixed(2), verified: Number(r.verified_hours).toFixed(2) });
    const link = $('result-link');
    link.href = config.patrol_url.replace(/0$/, String(r.id));
    link.hidden = false;
    $('recorder-result').dataset.claimedSeconds = String(r.claimed_seconds);
    $('recorder-result').dataset.verifiedSeconds = String(r.verified_seconds);
    show('recorder-result', true);
  }
}

async function main() {
  if (!window.isSecureContext) {
    show('needs-https', true);
    document.querySelectorAll('.recorder-choice, .recorder-buttons, .fix-state').forEach((el) => { el.hidden = true; });
    document.body.dataset.recorderState = 'insecure';
    return;
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(config.service_worker, { scope: config.scope }).catch(() => {});
  }
  const run = async () => {
    const queue = await openQueue();
    const page = new RecorderPage(queue);
    window.gridsvcRecorder = page; // for the journeys' checks
    await page.open();
  };
  if (!navigator.locks) {
    await run();
    return;
  }
  // One recording tab per phone: two would number the same walk's points twice.
  await navigator.locks.request('gridsvc-recorder', { ifAvailable: true }, async (lock) => {
    if (!lock) {
      show('other-tab', true);
      document.querySelectorAll('.recorder-choice, .recorder-buttons, .fix-state').forEach((el) => { el.hidden = true; });
      document.body.dataset.recorderState = 'other-tab';
      return;
    }
    await run();
    await new Promise(() => {}); // held while this page lives
  });
}

main();
