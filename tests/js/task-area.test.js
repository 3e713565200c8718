// JS unit tests of gridsvc/static/task-area.js: the drawn area's GeoJSON and the people picker's search.
'use strict';
const { it: test } = require('mocha');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE = fs.readFileSync(path.join(__dirname, '..', '..', 'gridsvc', 'static', 'task-area.js'), 'utf8');

// Values made inside the vm context have that context's prototypes; compare them as plain JSON.
function plain(value) {
  return value === null ? null : JSON.parse(JSON.stringify(value));
}

function load() {
  const window = {};
  vm.runInNewContext(SOURCE, { window, JSON, String, Math }, { filename: 'task-area.js' });
  return window.gridsvcTaskArea;
}

test('three tapped corners make a closed polygon; fewer make none', () => {
  const area = load();
  assert.equal(area.polygonFromVertices([]), null);
  assert.equal(area.polygonFromVertices([[117.3, 23.8], [117.31, 23.8]]), null);
  assert.deepEqual(plain(area.polygonFromVertices([[117.3, 23.8], [117.31, 23.8], [117.31, 23.81]])), {
    type: 'Polygon', coordinates: [[[117.3, 23.8], [117.31, 23.8], [117.31, 23.81], [117.3, 23.8]]],
  });
});

test('a double tap on one corner, or tapping the first corner again, adds no corner', () => {
  const area = load();
  const polygon = area.polygonFromVertices([[1, 1], [2, 1], [2, 1], [2, 2], [1, 1]]);
  assert.deepEqual(plain(polygon.coordinates[0]), [[1, 1], [2, 1], [2, 2], [1, 1]]);
  assert.equal(area.polygonFromVertices([[1, 1], [1, 1], [2, 2], [1, 1]]), null);
});

test('a stored polygon gives back its corners for editing, and nothing else does', () => {
  const area = load();
  const polygon = area.polygonFromVertices([[1, 1], [2, 1], [2, 2]]);
  assert.deepEqual(plain(area.verticesFromPolygon(polygon)), [[1, 1], [2, 1], [2, 2]]);
  assert.deepEqual(plain(area.polygonFromVertices(area.verticesFromPolygon(polygon))), plain(polygon));
  assert.deepEqual(plain(area.verticesFromPolygon({ type: 'LineString', coordinates: [[1, 1], [2, 2]] })), []);
  assert.deepEqual(plain(area.verticesFromPolygon(null)), []);
});

test('the picker matches every word of the query, in any case, in name or account number', () => {
  const area = load();
  const row = '张伟 · XLXQ000018';
  assert.equal(area.matches('', row), true);
  assert.equal(area.matches('张伟', row), true);
  assert.equal(area.matches('xlxq000018', row), true);
  assert.equal(area.matches('张伟 000018', row), true);
  assert.equal(area.matches('张伟 000019', row), false);
  assert.equal(area.matches('李', row), false);
});
