// JS unit tests of maps/static/gridsvc-map.js (node's own test runner; no browser, no npm packages).
// The file is loaded into a fresh context with a window and a Leaflet stub, as a page would load it.
'use strict';
const { it: test } = require('mocha');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE = fs.readFileSync(path.join(__dirname, '..', '..', 'maps', 'static', 'gridsvc-map.js'), 'utf8');

function load() {
  const window = {};
  const context = { window, document: {}, L: {}, Object };
  vm.runInNewContext(SOURCE, context, { filename: 'gridsvc-map.js' });
  return window;
}

function fakeMap() {
  return { attributionControl: null, fitBounds() {}, getContainer() { return {}; } };
}

test('the map is published only once every expected layer has reported', () => {
  const window = load();
  const map = fakeMap();
  window.gridsvc.init(map, { expectedReports: 2 });
  window.gridsvc.report(map, 'gridCount', 16);
  assert.equal(window.gridsvcMap, undefined, 'published before the second layer reported');
  window.gridsvc.report(map, 'cameraCount', 252);
  assert.equal(window.gridsvcMap.ready, true);
  assert.equal(window.gridsvcMap.gridCount, 16);
  assert.equal(window.gridsvcMap.cameraCount, 252);
  assert.equal(window.gridsvcMap.trackCount, 0);
  assert.deepEqual(map.gridsvcStats, window.gridsvcMap);
});

test('counts of one kind add up across reports', () => {
  const window = load();
  const map = fakeMap();
  window.gridsvc.init(map, { expectedReports: 3, skipped: { cameras: 5 } });
  window.gridsvc.report(map, 'gridCount', 1);
  window.gridsvc.report(map, 'gridCount', 15);
  window.gridsvc.report(map, 'trackCount', 4);
  assert.equal(window.gridsvcMap.gridCount, 16);
  assert.equal(window.gridsvcMap.trackCount, 4);
  assert.deepEqual({ ...window.gridsvcMap.skipped }, { cameras: 5 });
});

test('an empty map is ready at once', () => {
  const window = load();
  const map = fakeMap();
  window.gridsvc.init(map, { expectedReports: 0 });
  assert.equal(window.gridsvcMap.ready, true);
  assert.equal(window.gridsvcMap.cameraCount, 0);
});

test('reporting on a map that was never initialised is an error, not a silent no-op', () => {
  const window = load();
  assert.throws(() => window.gridsvc.report(fakeMap(), 'gridCount', 1), /gridsvc.init\(\) was not called/);
});
