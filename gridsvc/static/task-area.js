/* Task pages: the task's area on a small Leaflet map (drawn by tapping its corners, or taken from
 * a grid), and the searchable people picker.
 *
 * Plain ES5 like the map layers: intranet desktops may run old browsers. No tiles are loaded: the
 * station's outline and its grids give the bearings, and nothing is fetched from another host.
 */
(function (window, document) {
  'use strict';

  // A closed GeoJSON Polygon from the tapped corners [[lon, lat], ...]; null with fewer than three.
  function polygonFromVertices(vertices) {
    var ring = [];
    var i;
    for (i = 0; i < vertices.length; i += 1) {
      var last = ring[ring.length - 1];
      if (!last || last[0] !== vertices[i][0] || last[1] !== vertices[i][1]) {
        ring.push([vertices[i][0], vertices[i][1]]);
      }
    }
    if (ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1]) {
      ring.pop();
    }
    if (ring.length < 3) { return null; }
    ring.push([ring[0][0], ring[0][1]]);
    return { type: 'Polygon', coordinates: [ring] };
  }

  // The corners of a stored Polygon (without the closing one), to carry on drawing on the edit page.
  function verticesFromPolygon(geometry) {
    if (!geometry || geometry.type !== 'Polygon' || !geometry.coordinates || !geometry.coordinates[0]) {
      return [];
    }
    var ring = geometry.coordinates[0].slice(0, -1);
    return ring.map(function (point) { return [point[0], point[1]]; });
  }

  // Which of the texts match the query: every word of it appears, case-insensitively.
  function matches(query, text) {
    var words = String(query || '').toLowerCase().split(/\s+/).filter(Boolean);
    var haystack = String(text || '').toLowerCase();
    return words.every(function (word) { return haystack.indexOf(word) !== -1; });
  }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function outlineLayer(L, geometry, style) {
    return L.geoJSON({ type: 'Feature', geometry: geometry, properties: {} }, { style: style, interactive: false });
  }

  function setUpMap(L, container) {
    var map = L.map(container, { attributionControl: false, zoomSnap: 0.25 });
    var outlines = readJson(container.getAttribute('data-outlines')) || {};
    var grids = readJson(container.getAttribute('data-grids')) || {};
    var input = container.getAttribute('data-input') ? document.getElementById(container.getAttribute('data-input')) : null;
    var stationSelect = document.getElementById(container.getAttribute('data-station-select') || '');
    var gridSelect = document.getElementById(container.getAttribute('data-grid-select') || '');
    var frame = L.layerGroup().addTo(map);
    var stored = L.layerGroup().addTo(map);  // the task's saved area, until the user draws anew
    var drawn = L.layerGroup().addTo(map);
    var vertices = [];
    // The hidden field keeps the saved area until the user draws, clears or picks a grid: an area
    // this page cannot edit (a MultiPolygon, a route, a polygon with holes) survives saving the title.
    var touched = false;
    var status = document.getElementById(container.getAttribute('data-status') || '');

    function station() {
      return stationSelect ? stationSelect.value : container.getAttribute('data-station');
    }

    function showFrame() {
      frame.clearLayers();
      if (gridSelect) {  // offer only the chosen station's grids
        Array.prototype.forEach.call(gridSelect.options, function (option) {
          option.hidden = Boolean(option.value) && (!grids[option.value] || grids[option.value].station !== station());
          if (option.hidden && option.selected) { gridSelect.value = ''; }
        });
      }
      var outline = outlines[station()];
      if (!outline) { return; }
      var layer = outlineLayer(L, outline, { color: '#1f5f99', weight: 2, fill: false }).addTo(frame);
      Object.keys(grids).forEach(function (code) {
        if (grids[code].station === station()) {
          outlineLayer(L, grids[code].geometry, { color: '#888', weight: 1, dashArray: '3', fill: false }).addTo(frame);
        }
      });
      map.fitBounds(layer.getBounds(), { padding: [8, 8] });
    }

    function redraw() {
      drawn.clearLayers();
      var chosenGrid = gridSelect && gridSelect.value ? grids[gridSelect.value] : null;
      if (chosenGrid) {
        outlineLayer(L, chosenGrid.geometry, { color: '#c0392b', weight: 3, fillOpacity: 0.2 }).addTo(drawn);
      } else if (vertices.length) {
        var polygon = polygonFromVertices(vertices);
        var latlngs = vertices.map(function (v) { return [v[1], v[0]]; });
        if (polygon) {
          L.polygon(latlngs, { color: '#c0392b', weight: 3, fillOpacity: 0.2, interactive: false }).addTo(drawn);
        } else {
          L.polyline(latlngs, { color: '#c0392b', weight: 3, interactive: false }).addTo(drawn);
        }
        latlngs.forEach(function (latlng) {
          L.circleMarker(latlng, { radius: 4, color: '#c0392b', interactive: false }).addTo(drawn);
        });
      }
      if (input && touched) {
        var area = chosenGrid ? null : polygonFromVertices(vertices);
        input.value = area ? JSON.stringify(area) : '';
        stored.clearLayers();
      }
      if (status) {
        status.textContent = chosenGrid ? status.getAttribute('data-grid')
          : vertices.length === 0 ? status.getAttribute('data-empty')
          : vertices.length < 3 ? status.getAttribute('data-more')
          : status.getAttribute('data-done') + ' ' + String(vertices.length);
      }
      container.setAttribute('data-vertices', String(vertices.length));
    }

    var initial = readJson(container.getAttribute('data-area'));
    if (initial) {
      if (input && initial.type === 'Polygon' && initial.coordinates.length === 1) {
        vertices = verticesFromPolygon(initial);
      } else {
        outlineLayer(L, initial, { color: '#c0392b', weight: 3, fillOpacity: 0.2 }).addTo(stored);
      }
    }
    showFrame();
    redraw();
    container.setAttribute('data-area-shown', String(stored.getLayers().length + (vertices.length ? 1 : 0)));
    if (input) {
      map.on('click', function (event) {
        if (gridSelect && gridSelect.value) { return; }
        touched = true;
        vertices.push([Math.round(event.latlng.lng * 1e7) / 1e7, Math.round(event.latlng.lat * 1e7) / 1e7]);
        redraw();
      });
      var undo = document.getElementById(container.getAttribute('data-undo') || '');
      var clear = document.getElementById(container.getAttribute('data-clear') || '');
      if (undo) { undo.addEventListener('click', function () { touched = true; vertices.pop(); redraw(); }); }
      if (clear) { clear.addEventListener('click', function () { touched = true; vertices = []; redraw(); }); }
      if (gridSelect) { gridSelect.addEventListener('change', function () { touched = true; redraw(); }); }
      if (stationSelect) {
        stationSelect.addEventListener('change', function () { touched = true; vertices = []; showFrame(); redraw(); });
      }
    }
    container.setAttribute('data-ready', 'true');
    return map;
  }

  function setUpPicker(box) {
    var filter = box.querySelector('[data-picker-filter]');
    var items = box.querySelectorAll('[data-picker-item]');
    var empty = box.querySelector('[data-picker-empty]');
    if (!filter) { return; }
    filter.addEventListener('input', function () {
      var shown = 0;
      Array.prototype.forEach.call(items, function (item) {
        var visible = matches(filter.value, item.textContent);
        item.hidden = !visible;
        if (visible) { shown += 1; }
      });
      if (empty) { empty.hidden = shown !== 0; }
    });
  }

  window.gridsvcTaskArea = {
    polygonFromVertices: polygonFromVertices,
    verticesFromPolygon: verticesFromPolygon,
    matches: matches,
    setUpMap: setUpMap
  };

  if (document && document.addEventListener) {
    document.addEventListener('DOMContentLoaded', function () {
      Array.prototype.forEach.call(document.querySelectorAll('[data-picker]'), setUpPicker);
      if (window.L) {
        Array.prototype.forEach.call(document.querySelectorAll('[data-task-map]'), function (node) {
          setUpMap(window.L, node);
        });
      }
    });
  }
}(window, typeof document === 'undefined' ? null : document));
