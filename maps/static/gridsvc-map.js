/* gridsvc map layers: grids, cameras, tracks, effort cells, legend, title, fullscreen.
 *
 * Plain ES5 on purpose: intranet desktops may run old browsers.
 * Every user-supplied string reaches the page through textContent / createTextNode, never
 * innerHTML, so names like "<img src=x onerror=...>" show as text.
 */
(function (window, document, L) {
  'use strict';

  var gridsvc = window.gridsvc = window.gridsvc || {};

  // Camera flag bits; maps/builder.py packs them the same way.
  var FLAG_KIND_MASK = 3;          // bits 0-1: index into opts.kinds
  var FLAG_STATUS_SHIFT = 2;       // bits 2-3: index into opts.statuses
  var FLAG_STATUS_MASK = 3;
  var FLAG_UNLINKED = 16;          // bit 4: not connected to the police station
  var FLAG_NEEDS_ATTENTION = 32;   // bit 5: not online, or not linked
  var MICRODEGREES = 1000000;

  function text(tag, value, className) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    node.appendChild(document.createTextNode(value === null || value === undefined ? '' : String(value)));
    return node;
  }

  // A two-column table of (label, value) rows; rows whose value is undefined are left out.
  function fieldTable(title, rows) {
    var box = document.createElement('div');
    box.className = 'gridsvc-info';
    if (title !== null && title !== undefined && title !== '') {
      box.appendChild(text('div', title, 'gridsvc-info-title'));
    }
    var table = document.createElement('table');
    for (var i = 0; i < rows.length; i++) {
      if (rows[i][1] === undefined) { continue; }
      var tr = document.createElement('tr');
      tr.appendChild(text('th', rows[i][0]));
      tr.appendChild(text('td', rows[i][1]));
      table.appendChild(tr);
    }
    box.appendChild(table);
    return box;
  }

  function state(map) {
    if (!map._gridsvc) {
      throw new Error('gridsvc.init() was not called for this map');
    }
    return map._gridsvc;
  }

  /* Per-map bookkeeping. window.gridsvcMap is published once every expected layer reported, so a
   * test (or a benchmark) can wait for it and read how many features really reached Leaflet. */
  gridsvc.init = function (map, opts) {
    map._gridsvc = {
      remaining: opts.expectedReports,
      counts: { gridCount: 0, cameraCount: 0, trackCount: 0, effortCellCount: 0 },
      skipped: opts.skipped || {}
    };
    // Leaflet's default prefix links to leafletjs.com; intranet pages carry no external link.
    if (map.attributionControl) {
      map.attributionControl.setPrefix(opts.attributionPrefixHtml);
    }
    if (opts.bounds) {
      map.fitBounds(opts.bounds, { animate: false });
    }
    if (opts.noTiles) {
      L.DomUtil.addClass(map.getContainer(), 'gridsvc-no-tiles');
    }
    if (opts.title) {
      var title = text('div', opts.title, 'gridsvc-title');
      map.getContainer().appendChild(title);
      L.DomEvent.disableClickPropagation(title);
    }
    if (opts.expectedReports === 0) { publish(map); }
  };

  function publish(map) {
    var s = state(map);
    var stats = { ready: true, skipped: s.skipped };
    for (var key in s.counts) {
      if (Object.prototype.hasOwnProperty.call(s.counts, key)) { stats[key] = s.counts[key]; }
    }
    map.gridsvcStats = stats;
    window.gridsvcMap = stats;
  }

  gridsvc.report = function (map, counter, count) {
    var s = state(map);
    s.counts[counter] += count;
    s.remaining -= 1;
    if (s.remaining === 0) { publish(map); }
  };

  function loadedFeatureCount(geoJsonLayer) {
    return geoJsonLayer.getLayers().length;
  }

  /* Grid polygons of one level. Each feature carries properties.styleClass, an index into
   * opts.fills computed in Python (exact decimal comparison of the completion percent). */
  gridsvc.gridLayer = function (map, data, opts) {
    var labels = opts.labels;
    var layer = L.geoJSON(data, {
      style: function (feature) {
        var p = feature.properties;
        var style = L.Util.extend({}, opts.style);
        if (opts.fills && p.styleClass !== null && p.styleClass !== undefined) {
          style.fillColor = opts.fills[p.styleClass];
        }
        return style;
      },
      onEachFeature: function (feature, featureLayer) {
        var p = feature.properties;
        var percent = p.percent === undefined ? undefined :
          (p.percent === null ? labels.noData : p.percent + '%');
        featureLayer.bindTooltip(function () {
          return fieldTable(p.name, [
            [labels.code, p.code],
            [labels.level, p.levelLabel],
            [labels.volunteers, p.volunteers],
            [labels.hours, p.hours],
            [labels.percent, percent],
            [labels.cameraCount, p.cameraCount]
          ]);
        }, { sticky: true });
      }
    });
    layer.addTo(map);
    gridsvc.report(map, 'gridCount', loadedFeatureCount(layer));
    return layer;
  };

  gridsvc.trackLayer = function (map, data, opts) {
    var labels = opts.labels;
    var layer = L.geoJSON(data, {
      style: function (feature) {
        return opts.styles[feature.properties.kindIndex];
      },
      onEachFeature: function (feature, featureLayer) {
        var p = feature.properties;
        featureLayer.bindTooltip(function () {
          return fieldTable(p.kindLabel, [
            [labels.patroller, p.patroller],
            [labels.start, p.start],
            [labels.end, p.end],
            [labels.hours, p.hours]
          ]);
        }, { sticky: true });
      }
    });
    layer.addTo(map);
    gridsvc.report(map, 'trackCount', loadedFeatureCount(layer));
    return layer;
  };

  gridsvc.effortLayer = function (map, data, opts) {
    var labels = opts.labels;
    var layer = L.geoJSON(data, {
      style: function (feature) {
        var style = L.Util.extend({}, opts.style);
        style.fillColor = opts.fills[feature.properties.styleClass];
        return style;
      },
      onEachFeature: function (feature, featureLayer) {
        featureLayer.bindTooltip(function () {
          return fieldTable(null, [[labels.effortHours, feature.properties.hours]]);
        }, { sticky: true });
      }
    });
    // Shown on demand from the layer control: it overlaps the station shading.
    if (opts.show) { layer.addTo(map); }
    gridsvc.report(map, 'effortCellCount', loadedFeatureCount(layer));
    return layer;
  };

  function cameraStyle(flags, opts) {
    var kind = opts.kinds[flags & FLAG_KIND_MASK];
    var status = opts.statuses[(flags >> FLAG_STATUS_SHIFT) & FLAG_STATUS_MASK];
    // No renderer of its own: with preferCanvas every vector shares the map's one canvas. A second
    // canvas would lie over the grid polygons and swallow their hover tooltips.
    var style = {
      radius: opts.radius,
      fillColor: kind.color,
      fillOpacity: status.fillOpacity,
      color: status.strokeColor,
      weight: status.strokeWeight,
      opacity: 1
    };
    if (flags & FLAG_UNLINKED) {
      style.dashArray = opts.unlinked.dashArray;
      style.weight = Math.max(style.weight, opts.unlinked.strokeWeight);
      if (!status.alertStroke) {  // a fault's red outline stays red, only dashed
        style.color = opts.unlinked.strokeColor;
      }
    }
    return style;
  }

  function cameraPopup(data, index, opts) {
    var labels = opts.labels;
    var flags = data.flags[index];
    var deviceId = data.deviceIdPrefix + data.deviceIds[index];
    var parts = (data.idParts && data.idParts[index]) || null;
    if (!parts && deviceId && deviceId.length === 20) {
      // GB/T 28181: centre 8, industry 2, type 3, network 1, serial 6.
      parts = [deviceId.slice(0, 8), deviceId.slice(8, 10), deviceId.slice(10, 13),
        deviceId.slice(13, 14), deviceId.slice(14, 20)];
    }
    parts = parts || [];
    var kind = opts.kinds[flags & FLAG_KIND_MASK];
    var status = opts.statuses[(flags >> FLAG_STATUS_SHIFT) & FLAG_STATUS_MASK];
    var stationIndex = data.stations[index];
    var station;
    if (stationIndex >= 0) {
      var stationName = data.stationNames[stationIndex];
      station = stationName ? stationName + ' (' + data.stationCodes[stationIndex] + ')' : data.stationCodes[stationIndex];
    }
    return fieldTable(data.names[index], [
      [labels.deviceId, deviceId],
      [labels.idCentre, parts[0]],
      [labels.idIndustry, parts[1]],
      [labels.idType, parts[2]],
      [labels.idNetwork, parts[3]],
      [labels.idSerial, parts[4]],
      [labels.cameraKind, kind.label],
      [labels.cameraStatus, status.label],
      [labels.policeLinked, (flags & FLAG_UNLINKED) ? labels.no : labels.yes],
      [labels.station, station]
    ]);
  }

  function clusterIcon(cluster) {
    var markers = cluster.getAllChildMarkers();
    var attention = 0;
    for (var i = 0; i < markers.length; i++) {
      if (markers[i].options.gridsvcFlags & FLAG_NEEDS_ATTENTION) { attention++; }
    }
    var count = cluster.getChildCount();
    var size = count < 10 ? 'small' : (count < 100 ? 'medium' : 'large');
    var html = '<div><span>' + count + '</span></div>';
    if (attention > 0) {
      html += '<span class="gridsvc-cluster-attention">' + attention + '</span>';
    }
    return L.divIcon({
      html: html,
      className: 'marker-cluster marker-cluster-' + size,
      iconSize: L.point(40, 40)
    });
  }

  /* Cameras as canvas CircleMarkers in one MarkerClusterGroup. Data is columnar (a few bytes per
   * camera); popups are built on click, so 100,000 cameras cost no DOM until opened. */
  gridsvc.cameraLayer = function (map, data, opts) {
    var count = data.flags.length;
    // chunkProgress also fires for markercluster's own (empty) addLayers when the group joins the
    // map, and again whenever the layer is toggled back on: report only our load, once.
    var loading = false;
    var reported = false;
    var cluster = L.markerClusterGroup({
      chunkedLoading: true,
      chunkProgress: function (processed, total) {
        if (!loading || reported || processed !== total || total !== count) { return; }
        reported = true;
        // Let markercluster finish its own bookkeeping for this chunk before counting.
        window.setTimeout(function () {
          gridsvc.report(map, 'cameraCount', cluster.getLayers().length);
        }, 0);
      },
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      disableClusteringAtZoom: opts.disableClusteringAtZoom,
      iconCreateFunction: clusterIcon
    });
    // Positions come as integer micro-degrees relative to coordOrigin (see builder.py).
    var originLon = data.coordOrigin[0];
    var originLat = data.coordOrigin[1];
    var markers = new Array(count);
    for (var i = 0; i < count; i++) {
      var flags = data.flags[i];
      var style = cameraStyle(flags, opts);
      style.gridsvcIndex = i;
      style.gridsvcFlags = flags;
      markers[i] = L.circleMarker([
        (originLat + data.coords[2 * i + 1]) / MICRODEGREES,
        (originLon + data.coords[2 * i]) / MICRODEGREES
      ], style);
    }
    cluster.on('click', function (event) {
      var marker = event.layer;
      L.popup({ maxWidth: 360 })
        .setLatLng(marker.getLatLng())
        .setContent(cameraPopup(data, marker.options.gridsvcIndex, opts))
        .openOn(map);
    });
    // Add to the map before the markers: off the map, markercluster's addLayers checks each
    // marker against all earlier ones (quadratic); on the map it clusters in timed chunks.
    cluster.addTo(map);
    loading = true;
    cluster.addLayers(markers);
    return cluster;
  };

  function swatch(style, shape) {
    var svgNS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(svgNS, 'svg');
    svg.setAttribute('width', '22');
    svg.setAttribute('height', '16');
    svg.setAttribute('class', 'gridsvc-swatch');
    var node;
    if (shape === 'line') {
      node = document.createElementNS(svgNS, 'line');
      node.setAttribute('x1', '1'); node.setAttribute('y1', '8');
      node.setAttribute('x2', '21'); node.setAttribute('y2', '8');
    } else if (shape === 'circle') {
      node = document.createElementNS(svgNS, 'circle');
      node.setAttribute('cx', '11'); node.setAttribute('cy', '8'); node.setAttribute('r', '5');
    } else {
      node = document.createElementNS(svgNS, 'rect');
      node.setAttribute('x', '2'); node.setAttribute('y', '2');
      node.setAttribute('width', '18'); node.setAttribute('height', '12');
    }
    node.setAttribute('fill', style.fill || 'none');
    node.setAttribute('fill-opacity', style.fillOpacity === undefined ? 1 : style.fillOpacity);
    node.setAttribute('stroke', style.stroke || 'none');
    node.setAttribute('stroke-width', style.strokeWidth || 1);
    if (style.dashArray) { node.setAttribute('stroke-dasharray', style.dashArray); }
    svg.appendChild(node);
    return svg;
  }

  /* Legend from a spec of sections: [{title, items: [{label, shape, style}]}]. */
  gridsvc.legend = function (map, spec) {
    var control = L.control({ position: 'bottomright' });
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'gridsvc-legend leaflet-control');
      box.appendChild(text('div', spec.title, 'gridsvc-legend-title'));
      for (var s = 0; s < spec.sections.length; s++) {
        var section = spec.sections[s];
        box.appendChild(text('div', section.title, 'gridsvc-legend-section'));
        for (var i = 0; i < section.items.length; i++) {
          var item = section.items[i];
          var row = L.DomUtil.create('div', 'gridsvc-legend-item', box);
          row.appendChild(swatch(item.style, item.shape));
          row.appendChild(text('span', item.label));
        }
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      // Use the height the map has (it may be embedded in a page), leaving room for the
      // layer control above and the attribution below; scroll beyond that.
      function fit() {
        box.style.maxHeight = Math.max(120, map.getSize().y - 150) + 'px';
      }
      fit();
      map.on('resize', fit);
      return box;
    };
    control.addTo(map);
    return control;
  };

  // Four corner brackets, drawn rather than taken from an icon font (none is shipped).
  function fullscreenIcon() {
    var svgNS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(svgNS, 'svg');
    svg.setAttribute('width', '16');
    svg.setAttribute('height', '16');
    svg.setAttribute('viewBox', '0 0 16 16');
    svg.setAttribute('class', 'gridsvc-fullscreen-icon');
    var path = document.createElementNS(svgNS, 'path');
    path.setAttribute('d', 'M1 5V1h4M11 1h4v4M15 11v4h-4M5 15H1v-4');
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', '#333');
    path.setAttribute('stroke-width', '2');
    svg.appendChild(path);
    return svg;
  }

  /* Full-screen toggle: the Fullscreen API where there is one, else a CSS overlay. */
  gridsvc.fullscreenControl = function (map, labels) {
    var control = L.control({ position: 'topleft' });
    control.onAdd = function () {
      var bar = L.DomUtil.create('div', 'leaflet-bar gridsvc-fullscreen');
      var button = L.DomUtil.create('a', '', bar);
      button.href = '#';
      button.setAttribute('role', 'button');
      button.appendChild(fullscreenIcon());
      var container = map.getContainer();

      function isFullscreen() {
        return document.fullscreenElement === container ||
          L.DomUtil.hasClass(container, 'gridsvc-pseudo-fullscreen');
      }
      function refresh() {
        var label = isFullscreen() ? labels.exitFullscreen : labels.fullscreen;
        button.title = label;
        button.setAttribute('aria-label', label);
        map.invalidateSize();
      }
      L.DomEvent.on(button, 'click', function (event) {
        L.DomEvent.preventDefault(event);
        L.DomEvent.stopPropagation(event);
        if (container.requestFullscreen && document.exitFullscreen) {
          if (document.fullscreenElement) {
            document.exitFullscreen();
          } else {
            container.requestFullscreen();
          }
        } else if (L.DomUtil.hasClass(container, 'gridsvc-pseudo-fullscreen')) {
          L.DomUtil.removeClass(container, 'gridsvc-pseudo-fullscreen');
          refresh();
        } else {
          L.DomUtil.addClass(container, 'gridsvc-pseudo-fullscreen');
          refresh();
        }
      });
      L.DomEvent.on(document, 'fullscreenchange', refresh);
      refresh();
      return bar;
    };
    control.addTo(map);
    return control;
  };
}(window, document, L));
