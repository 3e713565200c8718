// The live page: polls the snapshot, moves the markers, keeps the list and the station counts, and
// says when the feed is disconnected. The page never reloads.
import { describe, fill, ordered } from './live-model.js';

const config = JSON.parse(document.getElementById('live-config').textContent);
const outlines = JSON.parse(document.getElementById('live-outlines').textContent);
const messages = JSON.parse(document.getElementById('live-messages').textContent);
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

class LivePage {
  constructor() {
    this.markers = new Map(); // patroller id -> circle marker
    this.map = null;
    this.failures = 0;
  }

  start() {
    if (typeof window.L !== 'undefined') {
      this.map = window.L.map($('live-map'), { attributionControl: false, zoomSnap: 0.25 });
      const stations = window.L.geoJSON(outlines, { style: { color: '#1565c0', weight: 1.5, fillOpacity: 0.04 } }).addTo(this.map);
      if (outlines.features.length) this.map.fitBounds(stations.getBounds(), { padding: [8, 8] });
      else this.map.setView([23.88, 117.3], 12);
    }
    if ('EventSource' in window && config.stream) this.listen();
    else this.refresh();
  }

  // The stream: a snapshot, then changes; EventSource reconnects by itself (and the server then
  // starts again with a snapshot). Refused outright (429, a proxy without streaming), the page polls.
  listen() {
    const source = new EventSource(config.stream, { withCredentials: true });
    this.source = source;
    const apply = (handler) => (event) => {
      handler(JSON.parse(event.data));
      this.connected(true);
      this.show(this.snapshot);
    };
    source.addEventListener('open', () => this.connected(true));
    source.addEventListener('snapshot', apply((snapshot) => { this.snapshot = snapshot; }));
    const upsert = (patroller) => {
      const others = this.snapshot.patrollers.filter((p) => p.session.id !== patroller.session.id);
      this.snapshot.patrollers = [...others, patroller];
    };
    source.addEventListener('session_started', apply(upsert));
    source.addEventListener('position', apply(upsert));
    source.addEventListener('state', apply((change) => {
      const patroller = this.snapshot.patrollers.find((p) => p.session.id === change.session_id);
      if (patroller) patroller.state = change.state;
    }));
    source.addEventListener('session_ended', apply((ended) => {
      this.snapshot.patrollers = this.snapshot.patrollers.filter((p) => p.session.id !== ended.session_id);
    }));
    source.addEventListener('counts', apply((counts) => { Object.assign(this.snapshot, counts); }));
    source.addEventListener('end', () => {
      source.close();
      window.location.reload(); // signed out: the page asks to sign in again
    });
    source.addEventListener('error', () => {
      this.connected(false);
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.refresh();
      }
    });
  }

  connected(yes) {
    $('live-disconnected').hidden = yes;
    document.body.dataset.liveFeed = yes ? 'connected' : 'disconnected';
  }

  async refresh() {
    let snapshot = null;
    try {
      const response = await fetch(config.snapshot, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
      if (response.status === 401 || response.redirected) {
        window.location.reload(); // signed out: the page asks to sign in again
        return;
      }
      if (response.ok) snapshot = await response.json();
    } catch (error) {
      snapshot = null;
    }
    this.connected(snapshot !== null);
    if (snapshot) {
      this.failures = 0;
      this.show(snapshot);
    } else {
      this.failures += 1;
    }
    const delay = config.refresh_seconds * 1000 * Math.min(6, 2 ** Math.max(0, this.failures - 1));
    setTimeout(() => this.refresh(), delay);
  }

  show(snapshot) {
    if (!snapshot) return;
    const total = snapshot.patrollers.length;
    $('live-summary').textContent = fill(messages.summary, { total, ...snapshot.counts, time: snapshot.generated_at.slice(11, 19) });
    const list = $('live-list');
    list.replaceChildren();
    const seen = new Set();
    for (const patroller of ordered(snapshot.patrollers)) {
      const line = describe(patroller, messages);
      const item = document.createElement('li');
      item.dataset.patroller = String(patroller.volunteer.id);
      item.dataset.state = patroller.state;
      const dot = document.createElement('span');
      dot.className = 'state';
      dot.style.background = line.colour;
      dot.title = line.stateText;
      const name = document.createElement('strong');
      name.textContent = line.name;
      const detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = `${line.stateText} · ${line.detail}`;
      item.append(dot, name, detail);
      list.append(item);
      seen.add(patroller.volunteer.id);
      if (patroller.position && this.map) {
        const at = [patroller.position.lat, patroller.position.lon];
        let marker = this.markers.get(patroller.volunteer.id);
        if (!marker) {
          marker = window.L.circleMarker(at, { radius: 8, weight: 2, fillOpacity: 0.9 }).addTo(this.map);
          this.markers.set(patroller.volunteer.id, marker);
        }
        marker.setLatLng(at);
        marker.setStyle({ color: line.colour, fillColor: line.colour });
        marker.bindTooltip(`${line.name} · ${line.stateText}`);
        item.addEventListener('click', () => this.map.setView(at, Math.max(this.map.getZoom(), 16)));
      }
    }
    for (const [id, marker] of this.markers) {
      if (!seen.has(id)) {
        marker.remove();
        this.markers.delete(id);
      }
    }
    $('live-empty').hidden = total > 0;
    document.querySelectorAll('[data-testid=live-stations] li').forEach((li) => {
      li.querySelector('.n').textContent = String(snapshot.by_station[li.dataset.station] || 0);
    });
    document.body.dataset.liveUpdated = snapshot.generated_at;
  }
}

window.gridsvcLive = new LivePage();
window.gridsvcLive.start();
