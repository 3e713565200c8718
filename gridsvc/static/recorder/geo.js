// Distances and areas on the phone: what the recorder shows while walking. The server's own
// verification of the stored points is what counts; these figures only inform the walker.

const EARTH_RADIUS_M = 6371008.8; // the mean radius (IUGG), as gridsvc.geo uses

/** Great-circle distance in metres between two {lat, lon} points. */
export function haversineMetres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

function insideRing(lon, lat, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function insidePolygon(lon, lat, rings) {
  return rings.length > 0 && insideRing(lon, lat, rings[0]) && !rings.slice(1).some((hole) => insideRing(lon, lat, hole));
}

/** Whether (lon, lat) lies in a GeoJSON Polygon or MultiPolygon; null when there is no area to judge by. */
export function insideArea(lon, lat, geometry) {
  if (!geometry) return null;
  if (geometry.type === 'Polygon') return insidePolygon(lon, lat, geometry.coordinates);
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.some((rings) => insidePolygon(lon, lat, rings));
  return null;
}
