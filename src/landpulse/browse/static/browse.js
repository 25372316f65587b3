/* landpulse product browser: a map of item footprints (canvas over Web Mercator), filters, a list
 * and item details, over one index (items.js, window.LANDPULSE_INDEX, a GeoJSON FeatureCollection).
 * No third-party code: the map is drawn here. A basemap of XYZ tiles is drawn when the page is online
 * and its tiles load; otherwise a plain background with a graticule.
 * window.landpulseBrowse exposes the state the tests read (ready, renderMs, drawn, shown, view). */
(function () {
  'use strict';

  var api = window.landpulseBrowse = { ready: false, errors: [], drawn: 0, shown: 0, total: 0, basemap: 'plain', t: { start: performance.now() } };
  window.addEventListener('error', function (e) {
    api.errors.push(String(e.message || e));
    var s = document.getElementById('status');
    if (s) s.textContent = 'Error: ' + (e.message || e);
  });

  var CONFIG = JSON.parse(document.getElementById('landpulse-config').textContent);
  var DATA = window.LANDPULSE_INDEX;
  var TILE = 256, MAX_ZOOM = 19, PAGE = 100;
  var PRODUCT_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#8c564b', '#6b6b6b',
                         '#a6761d', '#1b1f24'];
  var RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725']; // viridis, 5 stops
  var NO_VALUE = '#9aa3ad';

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (attrs[k] === null || attrs[k] === undefined) continue;
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }
  function fmtDate(iso) {
    if (!iso) return '';
    return iso.slice(0, 10) + (iso.length > 15 ? ' ' + iso.slice(11, 16) + ' UTC' : '');
  }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || typeof v !== 'number') return String(v);
    return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(digits === undefined ? 4 : digits);
  }
  function fmtHa(v) {
    return typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 2 : 1 }) + ' ha' : String(v);
  }
  function fmtBytes(n) {
    if (n === undefined || n === null) return '';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function hexToRgb(h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; }
  function ramp(t) {
    if (!(t >= 0)) t = 0; if (t > 1) t = 1;
    var p = t * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(p)), f = p - i;
    var a = hexToRgb(RAMP[i]), b = hexToRgb(RAMP[i + 1]);
    var c = [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); });
    return '#' + c.map(function (v) { return (v < 16 ? '0' : '') + v.toString(16); }).join('');
  }

  /* ---------------- projection: lon/lat -> Web Mercator world pixels at zoom 0 (0..256) ---------- */
  var MAX_LAT = 85.0511287798;
  function projectX(lon) { return (lon + 180) / 360 * TILE; }
  function projectY(lat) {
    lat = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
    var s = Math.sin(lat * Math.PI / 180);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE;
  }

  function unprojectY(y) {
    var n = Math.PI * (1 - 2 * y / TILE);
    return Math.atan(Math.sinh(n)) * 180 / Math.PI;
  }

  /* ---------------- the index ---------------- */
  var meta = (DATA && DATA.landpulse) || {};
  var features = ((DATA && DATA.features) || []).map(function (f, i) {
    var p = f.properties || {};
    var rings = [];
    var g = f.geometry;
    var polys = !g ? [] : g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    polys.forEach(function (poly) {
      var ring = poly[0], pts = new Float64Array(ring.length * 2);
      for (var k = 0; k < ring.length; k++) {
        var x = projectX(ring[k][0]), y = projectY(ring[k][1]);
        pts[2 * k] = x; pts[2 * k + 1] = y;
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
      rings.push(pts);
    });
    return { i: i, id: String(f.id), p: p, rings: rings, box: [x0, y0, x1, y1],
             day: p.datetime ? String(p.datetime).slice(0, 10) : '',
             thumb: p.thumbnail ? { href: p.thumbnail } : null };
  });
  api.t.features = performance.now();
  var products = [], tiles = [], days = [];
  (function () {
    var ps = {}, ts = {}, ds = {};
    features.forEach(function (f) { ps[f.p.product] = 1; if (f.p.tile) ts[f.p.tile] = 1; if (f.day) ds[f.day] = 1; });
    products = Object.keys(ps).sort(); tiles = Object.keys(ts).sort(); days = Object.keys(ds).sort();
  })();
  var productColour = {};
  products.forEach(function (name, k) { productColour[name] = PRODUCT_COLOURS[k % PRODUCT_COLOURS.length]; });
  api.total = features.length;
  api.productColours = productColour;
  api.fillAlpha = 0.45;
  api.days = days;

  /* ---------------- state ---------------- */
  var state = { products: {}, tile: '', from: '', to: '', time: 0, colour: 'product', shown: [], selected: null,
                listed: PAGE, valueRange: [0, 1] };
  products.forEach(function (p) { state.products[p] = true; });

  function applyFilters() {
    var dayOnly = state.time > 0 ? days[state.time - 1] : null;
    state.shown = features.filter(function (f) {
      if (!state.products[f.p.product]) return false;
      if (state.tile && f.p.tile !== state.tile) return false;
      if (state.from && f.day < state.from) return false;
      if (state.to && f.day > state.to) return false;
      if (dayOnly && f.day !== dayOnly) return false;
      return true;
    });
    var vals = state.shown.map(function (f) { return f.p.value; }).filter(function (v) { return typeof v === 'number'; });
    state.valueRange = vals.length ? [Math.min.apply(null, vals), Math.max.apply(null, vals)] : [0, 1];
    if (state.selected && state.shown.indexOf(state.selected) < 0) {
      state.selected = null; api.selected = null; api.detailsFor = null;
      $('details').textContent = '';
      $('details').appendChild(el('p', { class: 'help', text: 'The selected item is filtered out. Select an item on the map or in the list.' }));
    }
    state.listed = PAGE;
    api.shown = state.shown.length;
    var nProducts = {}, nTiles = {};
    state.shown.forEach(function (f) { nProducts[f.p.product] = 1; nTiles[f.p.tile] = 1; });
    $('status').textContent = 'Showing ' + state.shown.length + ' of ' + features.length + ' items (' +
      Object.keys(nProducts).length + ' products, ' + Object.keys(nTiles).length + ' tiles)';
    renderList();
    renderLegend();
    draw();
  }

  function colourOf(f) {
    if (state.colour === 'product') return productColour[f.p.product];
    if (state.colour === 'date') {
      if (!f.day || days.length < 2) return ramp(0.5);
      var t0 = Date.parse(days[0]), t1 = Date.parse(days[days.length - 1]);
      return ramp((Date.parse(f.day) - t0) / (t1 - t0));
    }
    if (state.colour === 'value') {
      if (typeof f.p.value !== 'number') return NO_VALUE;
      var r = state.valueRange;
      return ramp(r[1] > r[0] ? (f.p.value - r[0]) / (r[1] - r[0]) : 0.5);
    }
    return typeof f.p.valid_fraction === 'number' ? ramp(f.p.valid_fraction) : NO_VALUE;
  }
  api.colourOf = function (id) {
    var f = features.filter(function (g) { return g.id === id; })[0];
    return f ? colourOf(f) : null;
  };

  /* ---------------- the map ---------------- */
  var canvas = $('map'), ctx = canvas.getContext('2d');
  var layer = document.createElement('canvas'), lctx = layer.getContext('2d'), FILL_ALPHA = 0.45;
  var view = { cx: 128, cy: 128, zoom: 1, w: 0, h: 0 };
  api.view = view;
  var basemap = CONFIG.basemap && navigator.onLine !== false ? CONFIG.basemap : null;
  var tileCache = {}, basemapFailed = false, basemapLoaded = 0;

  function resize() {
    var r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    view.w = Math.max(1, Math.round(r.width)); view.h = Math.max(1, Math.round(r.height));
    canvas.width = Math.round(view.w * dpr); canvas.height = Math.round(view.h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function scale() { return Math.pow(2, view.zoom); }
  function toScreenX(x) { return (x - view.cx) * scale() + view.w / 2; }
  function toScreenY(y) { return (y - view.cy) * scale() + view.h / 2; }
  function toWorld(sx, sy) { var s = scale(); return [(sx - view.w / 2) / s + view.cx, (sy - view.h / 2) / s + view.cy]; }
  function clampView() {
    view.zoom = Math.max(0, Math.min(MAX_ZOOM, view.zoom));
    view.cy = Math.max(0, Math.min(TILE, view.cy));
    view.cx = Math.max(-TILE, Math.min(2 * TILE, view.cx));
  }

  function fit(list, quiet) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    list.forEach(function (f) {
      if (!f.rings.length) return;
      x0 = Math.min(x0, f.box[0]); y0 = Math.min(y0, f.box[1]); x1 = Math.max(x1, f.box[2]); y1 = Math.max(y1, f.box[3]);
    });
    if (!isFinite(x0)) { view.cx = 128; view.cy = 128; view.zoom = 1; if (!quiet) draw(); return; }
    view.cx = (x0 + x1) / 2; view.cy = (y0 + y1) / 2;
    var dx = Math.max(x1 - x0, 1e-6), dy = Math.max(y1 - y0, 1e-6);
    view.zoom = Math.min(16, Math.log2(Math.min(view.w / dx, view.h / dy) * 0.85));
    clampView();
    if (!quiet) draw();
  }

  function tileUrl(z, x, y) { return basemap.url.replace('{z}', z).replace('{x}', x).replace('{y}', y); }
  function drawBasemap() {
    var zi = Math.max(0, Math.min(basemap.max_zoom || MAX_ZOOM, Math.round(view.zoom)));
    var n = Math.pow(2, zi), size = TILE * Math.pow(2, view.zoom - zi);
    var tl = toWorld(0, 0), br = toWorld(view.w, view.h), unit = TILE / n;
    var tx0 = Math.floor(tl[0] / unit), tx1 = Math.floor(br[0] / unit);
    var ty0 = Math.max(0, Math.floor(tl[1] / unit)), ty1 = Math.min(n - 1, Math.floor(br[1] / unit));
    var complete = true;
    for (var ty = ty0; ty <= ty1; ty++) for (var tx = tx0; tx <= tx1; tx++) {
      var wx = ((tx % n) + n) % n, key = zi + '/' + wx + '/' + ty, img = tileCache[key];
      if (!img) {
        img = tileCache[key] = new Image();
        img.onload = function () { basemapLoaded++; api.basemap = 'tiles'; scheduleDraw(); };
        img.onerror = function () { basemapFailed = true; api.basemap = 'plain'; updateAttribution(); scheduleDraw(); };
        img.src = tileUrl(zi, wx, ty);
      }
      if (img.complete && img.naturalWidth) ctx.drawImage(img, toScreenX(tx * unit), toScreenY(ty * unit), size + 0.5, size + 0.5);
      else complete = false;
    }
    return complete;
  }
  function drawGraticule() {
    ctx.fillStyle = '#dfe7ee';
    ctx.fillRect(0, 0, view.w, view.h);
    var degPerPx = 360 / (TILE * scale()), steps = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
    var step = steps[steps.length - 1];
    for (var k = 0; k < steps.length; k++) if (steps[k] / degPerPx < 160) { step = steps[k]; break; }
    ctx.strokeStyle = '#aebccb'; ctx.lineWidth = 1;
    ctx.beginPath();
    var tl = toWorld(0, 0), br = toWorld(view.w, view.h);
    var lon0 = tl[0] / TILE * 360 - 180, lon1 = br[0] / TILE * 360 - 180;
    for (var lon = Math.ceil(lon0 / step) * step; lon <= lon1; lon += step) {
      var sx = toScreenX(projectX(lon)); ctx.moveTo(sx, 0); ctx.lineTo(sx, view.h);
    }
    var lat0 = Math.max(-MAX_LAT, unprojectY(br[1])), lat1 = Math.min(MAX_LAT, unprojectY(tl[1]));
    for (var lat = Math.ceil(lat0 / step) * step; lat <= lat1; lat += step) {
      var sy = toScreenY(projectY(lat)); ctx.moveTo(0, sy); ctx.lineTo(view.w, sy);
    }
    ctx.stroke();
  }

  var drawPending = false;
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    window.requestAnimationFrame(function () { drawPending = false; draw(); });
  }

  function tracePath(path, f) {
    for (var r = 0; r < f.rings.length; r++) {
      var pts = f.rings[r];
      for (var k = 0; k < pts.length; k += 2) {
        var sx = toScreenX(pts[k]), sy = toScreenY(pts[k + 1]);
        if (k === 0) path.moveTo(sx, sy); else path.lineTo(sx, sy);
      }
      path.closePath();
    }
  }

  function draw() {
    if (!view.w) resize();
    ctx.clearRect(0, 0, view.w, view.h);
    drawGraticule();
    if (basemap && !basemapFailed) drawBasemap();
    var tl = toWorld(0, 0), br = toWorld(view.w, view.h);
    var groups = {}, order = [], drawn = 0;
    for (var i = 0; i < state.shown.length; i++) {
      var f = state.shown[i], b = f.box;
      if (!f.rings.length || b[2] < tl[0] || b[0] > br[0] || b[3] < tl[1] || b[1] > br[1]) continue;
      var c = colourOf(f);
      if (!groups[c]) { groups[c] = new Path2D(); order.push(c); }
      tracePath(groups[c], f);
      drawn++;
    }
    // fills: opaque on a layer of their own, laid over the map at FILL_ALPHA, so a pixel shows the
    // topmost footprint's colour over the background however many footprints overlap there
    var dpr = window.devicePixelRatio || 1;
    if (layer.width !== canvas.width || layer.height !== canvas.height) { layer.width = canvas.width; layer.height = canvas.height; }
    lctx.setTransform(1, 0, 0, 1, 0, 0); lctx.clearRect(0, 0, layer.width, layer.height); lctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    order.forEach(function (c) { lctx.fillStyle = c; lctx.fill(groups[c]); });
    ctx.save(); ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.globalAlpha = FILL_ALPHA; ctx.drawImage(layer, 0, 0); ctx.restore();
    order.forEach(function (c) { ctx.strokeStyle = c; ctx.lineWidth = 2; ctx.stroke(groups[c]); });
    if (state.selected && state.selected.rings.length) {
      var sel = new Path2D(); tracePath(sel, state.selected);
      ctx.strokeStyle = '#ffffff'; ctx.lineWidth = 6; ctx.stroke(sel);
      ctx.strokeStyle = '#1b1f24'; ctx.lineWidth = 3; ctx.stroke(sel);
    }
    api.drawn = drawn;
    canvas.setAttribute('aria-label', 'Map of ' + drawn + ' item footprints' +
      (state.selected ? '; selected: ' + (state.selected.p.title || state.selected.id) : ''));
  }

  function updateAttribution() {
    var a = $('attribution');
    if (basemap && !basemapFailed) a.textContent = basemap.attribution || '';
    else a.textContent = basemap ? 'Basemap unavailable (offline): plain background' : 'Plain background (no basemap)';
  }

  function pointIn(pts, x, y) {
    var inside = false;
    for (var i = 0, j = pts.length - 2; i < pts.length; j = i, i += 2) {
      var xi = pts[i], yi = pts[i + 1], xj = pts[j], yj = pts[j + 1];
      if (((yi > y) !== (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) inside = !inside;
    }
    return inside;
  }
  function hits(sx, sy) {
    var w = toWorld(sx, sy), out = [];
    for (var i = state.shown.length - 1; i >= 0; i--) {
      var f = state.shown[i], b = f.box;
      if (w[0] < b[0] || w[0] > b[2] || w[1] < b[1] || w[1] > b[3]) continue;
      for (var r = 0; r < f.rings.length; r++) if (pointIn(f.rings[r], w[0], w[1])) { out.push(f); break; }
    }
    return out;
  }

  function zoomAt(sx, sy, dz) {
    var before = toWorld(sx, sy);
    view.zoom += dz; clampView();
    var after = toWorld(sx, sy);
    view.cx += before[0] - after[0]; view.cy += before[1] - after[1];
    clampView(); scheduleDraw();
  }

  var drag = null;
  canvas.addEventListener('pointerdown', function (e) {
    drag = { x: e.clientX, y: e.clientY, cx: view.cx, cy: view.cy, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { view.cx = drag.cx - dx / scale(); view.cy = drag.cy - dy / scale(); clampView(); scheduleDraw(); }
  });
  canvas.addEventListener('pointerup', function (e) {
    var d = drag; drag = null;
    if (!d || d.moved) return;
    var r = canvas.getBoundingClientRect(), found = hits(e.clientX - r.left, e.clientY - r.top);
    if (found.length) select(found[0], { scroll: true, hits: found.length });
  });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoomAt(e.clientX - r.left, e.clientY - r.top, e.deltaY < 0 ? 0.5 : -0.5);
  }, { passive: false });
  canvas.addEventListener('keydown', function (e) {
    var step = 80 / scale(), handled = true;
    if (e.key === 'ArrowLeft') view.cx -= step;
    else if (e.key === 'ArrowRight') view.cx += step;
    else if (e.key === 'ArrowUp') view.cy -= step;
    else if (e.key === 'ArrowDown') view.cy += step;
    else if (e.key === '+' || e.key === '=') view.zoom += 0.5;
    else if (e.key === '-' || e.key === '_') view.zoom -= 0.5;
    else if (e.key === '0') { fit(state.shown); return; }
    else handled = false;
    if (handled) { e.preventDefault(); clampView(); scheduleDraw(); }
  });
  $('zoom-in').addEventListener('click', function () { zoomAt(view.w / 2, view.h / 2, 1); });
  $('zoom-out').addEventListener('click', function () { zoomAt(view.w / 2, view.h / 2, -1); });
  $('zoom-fit').addEventListener('click', function () { fit(state.shown); });
  window.addEventListener('resize', function () { resize(); scheduleDraw(); });

  /* ---------------- legends ---------------- */
  function rampLegend(lo, hi, stops) {
    return el('div', null,
      el('div', { class: 'ramp', style: 'background: linear-gradient(to right, ' + stops.join(', ') + ')', role: 'img',
                  'aria-label': 'colour ramp from ' + lo + ' to ' + hi }),
      el('div', { class: 'ramp-labels' }, el('span', { text: lo }), el('span', { text: hi })));
  }
  function renderLegend() {
    var box = $('legend'); box.textContent = '';
    var titles = { product: 'Product', date: 'Acquisition date', value: 'Mean value', valid: 'Valid fraction' };
    box.appendChild(el('div', { class: 'title', text: titles[state.colour] }));
    if (state.colour === 'product') {
      var ul = el('ul');
      products.forEach(function (p) {
        ul.appendChild(el('li', { 'data-product': p }, el('span', { class: 'swatch', style: 'background:' + productColour[p] }), p));
      });
      box.appendChild(ul);
    } else if (state.colour === 'date') {
      box.appendChild(rampLegend(days[0] || '', days[days.length - 1] || '', RAMP));
    } else if (state.colour === 'value') {
      box.appendChild(rampLegend(fmtNum(state.valueRange[0], 3), fmtNum(state.valueRange[1], 3), RAMP));
      box.appendChild(el('div', null, el('span', { class: 'swatch', style: 'background:' + NO_VALUE }), 'no value (classes)'));
    } else {
      box.appendChild(rampLegend('0', '1', RAMP));
    }
  }
  function isClasses(name) { var lg = (meta.legends || {})[name]; return !!lg && lg.kind === 'classes'; }
  function productLegend(name) {
    var lg = (meta.legends || {})[name];
    if (!lg) return null;
    var box = el('div', { class: 'legend', 'aria-label': 'Legend of ' + name });
    box.appendChild(el('h3', { text: 'Legend' }));
    if (lg.kind === 'classes') {
      var ul = el('ul');
      lg.classes.forEach(function (c) {
        ul.appendChild(el('li', null, el('span', { class: 'swatch', style: 'background:' + c.colour }), c.value + ' ' + c.name));
      });
      ul.appendChild(el('li', null, el('span', { class: 'swatch', style: 'background: transparent' }), 'no data (transparent)'));
      box.appendChild(ul);
    } else {
      box.appendChild(rampLegend(String(lg.min), String(lg.max) + (lg.unit ? ' ' + lg.unit : ''), lg.colours));
      box.appendChild(el('p', { class: 'help', text: 'No data: transparent.' }));
    }
    return box;
  }

  /* ---------------- the list ---------------- */
  var observer = 'IntersectionObserver' in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (en) {
      if (en.isIntersecting && en.target.dataset.src) {
        en.target.src = en.target.dataset.src; delete en.target.dataset.src; observer.unobserve(en.target);
      }
    });
  }, { root: $('items'), rootMargin: '200px' }) : null;

  function itemLabel(f) {
    return (f.p.product || '') + ' \u00b7 ' + (f.p.tile || '') + ' \u00b7 ' + fmtDate(f.p.datetime);
  }
  function thumbAlt(f) {
    return 'Quick-look of ' + (f.p.title || f.p.product) + ' on tile ' + (f.p.tile || '?') + ', ' + fmtDate(f.p.datetime);
  }
  function listButton(f) {
    var img;
    if (f.thumb) {
      img = el('img', { alt: thumbAlt(f), width: '48', height: '48' });
      if (observer) { img.dataset.src = f.thumb.href; observer.observe(img); } else img.src = f.thumb.href;
    } else img = el('span', { class: 'noimg', role: 'img', 'aria-label': 'no quick-look' });
    var value = typeof f.p.value === 'number' ? 'mean ' + fmtNum(f.p.value, 3) :
      typeof f.p.valid_fraction === 'number' ? 'valid ' + (100 * f.p.valid_fraction).toFixed(1) + ' %' : '';
    var b = el('button', { type: 'button', 'data-id': f.id, 'aria-current': state.selected === f ? 'true' : 'false' }, img,
      el('span', null, el('span', { class: 'dot', style: 'background:' + productColour[f.p.product], 'aria-hidden': 'true' }),
        el('strong', { text: itemLabel(f) }), el('br'), el('span', { class: 'help', text: value })));
    b.addEventListener('click', function () { select(f, { focusDetails: false }); });
    return el('li', null, b);
  }
  function renderList() {
    var ul = $('item-list'); ul.textContent = '';
    var n = Math.min(state.listed, state.shown.length), frag = document.createDocumentFragment();
    for (var i = 0; i < n; i++) frag.appendChild(listButton(state.shown[i]));
    ul.appendChild(frag);
    $('items-heading').textContent = 'Items (' + state.shown.length + ')';
    var more = $('more');
    more.hidden = n >= state.shown.length;
    more.textContent = 'Show more (' + (state.shown.length - n) + ' not listed)';
  }
  $('more').addEventListener('click', function () {
    var ul = $('item-list'), start = ul.children.length;
    state.listed += PAGE;
    var n = Math.min(state.listed, state.shown.length);
    for (var i = start; i < n; i++) ul.appendChild(listButton(state.shown[i]));
    var more = $('more');
    more.hidden = n >= state.shown.length;
    more.textContent = 'Show more (' + (state.shown.length - n) + ' not listed)';
    if (ul.children[start]) ul.children[start].firstChild.focus();
  });
  $('item-list').addEventListener('keydown', function (e) {
    var buttons = Array.prototype.slice.call($('item-list').querySelectorAll('button'));
    var k = buttons.indexOf(document.activeElement);
    if (k < 0) return;
    var next = e.key === 'ArrowDown' ? k + 1 : e.key === 'ArrowUp' ? k - 1 : e.key === 'Home' ? 0 :
      e.key === 'End' ? buttons.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, next))].focus();
  });

  /* ---------------- details ---------------- */
  function row(name, value) {
    if (value === undefined || value === null || value === '') return null;
    return el('tr', null, el('th', { scope: 'row', text: name }), el('td', null, typeof value === 'string' ? value : value));
  }
  function table(caption, rows) {
    rows = rows.filter(Boolean);
    if (!rows.length) return null;
    var t = el('table', null, caption ? el('caption', { class: 'help', text: caption }) : null);
    var tb = el('tbody'); rows.forEach(function (r) { tb.appendChild(r); }); t.appendChild(tb);
    return t;
  }
  function nonEmpty(v) { return v !== null && v !== undefined && (typeof v !== 'object' || Object.keys(v).length > 0); }
  function json(v) { return el('code', { text: JSON.stringify(v) }); }

  function select(f, opts) {
    opts = opts || {};
    state.selected = f;
    var buttons = $('item-list').querySelectorAll('button[data-id]');
    for (var i = 0; i < buttons.length; i++) buttons[i].setAttribute('aria-current', buttons[i].dataset.id === f.id ? 'true' : 'false');
    if (opts.scroll) {
      var b = $('item-list').querySelector('button[aria-current="true"]');
      if (b) b.scrollIntoView({ block: 'nearest' });
    }
    api.selected = f.id;
    draw();
    var box = $('details');
    box.textContent = '';
    box.appendChild(el('p', { class: 'help', text: 'Loading the details of ' + f.id + '\u2026' }));
    withDetails(f, function (full) {
      if (state.selected !== f) return;
      renderDetails(f, full, opts.hits || 0);
      api.detailsFor = f.id;
    });
  }

  /* the properties beyond what the map and list need: details/<n>.js, loaded when first needed */
  window.LANDPULSE_DETAILS = window.LANDPULSE_DETAILS || {};
  var detailWaiters = {};
  function withDetails(f, done) {
    var ref = f.p.detail, info = meta.details || {};
    if (!ref) { done(f.p); return; }
    var n = ref[0], chunk = window.LANDPULSE_DETAILS[n];
    if (chunk) { done(Object.assign({}, chunk[ref[1]], f.p)); return; }
    if (detailWaiters[n]) { detailWaiters[n].push(function () { withDetails(f, done); }); return; }
    detailWaiters[n] = [function () { withDetails(f, done); }];
    var script = document.createElement('script');
    script.src = (info.folder || 'details') + '/' + n + '.js';
    script.onload = function () { var w = detailWaiters[n]; delete detailWaiters[n]; w.forEach(function (cb) { cb(); }); };
    script.onerror = function () {
      delete detailWaiters[n];
      $('details').textContent = 'The details of this item (' + script.src + ') could not be loaded: keep the details folder beside this page.';
    };
    document.head.appendChild(script);
  }

  function renderDetails(f, p, hitCount) {
    var box = $('details');
    box.textContent = '';
    box.appendChild(el('h2', { text: (p.title || p.product) + ' \u2014 ' + (p.tile || '') + ', ' + fmtDate(p.datetime) }));
    if (hitCount > 1) box.appendChild(el('p', { class: 'help', text: hitCount + ' items lie under that point; this is the topmost.' }));
    var st = p.stats || {};
    box.appendChild(table(null, [
      row('Item', f.id), row('Product', p.product), row('Tile', p.tile), row('Date', fmtDate(p.datetime)),
      row('CRS', p.crs), row('Grid', p.shape ? p.shape.join(' \u00d7 ') + ' pixels' : null),
      row('Valid', typeof p.valid_fraction === 'number' ? (100 * p.valid_fraction).toFixed(2) + ' % of pixels (' + (st.valid_pixels || 0) + ')' : null),
      row('Values', typeof st.mean === 'number' && !isClasses(p.product) ? 'min ' + fmtNum(st.min) + ', mean ' + fmtNum(st.mean) + ', max ' + fmtNum(st.max) : null),
      row('Unrepresentable', st.unrepresentable_pixels ? String(st.unrepresentable_pixels) + ' pixels' : null),
      row('Cloud cover', typeof p.cloud_cover === 'number' ? p.cloud_cover + ' % (input scene)' : null),
      row('Files', p.files ? p.files + ' files, ' + fmtBytes(p.bytes) : null)
    ]));
    if (f.thumb) {
      box.appendChild(el('img', { class: 'thumb', src: f.thumb.href, alt: thumbAlt(f), loading: 'lazy' }));
    }
    var lg = productLegend(p.product);
    if (lg) box.appendChild(lg);
    if (p.areas_ha) {
      box.appendChild(el('h3', { text: 'Areas per class' }));
      box.appendChild(table(null, Object.keys(p.areas_ha).map(function (k) { return row(k.replace(/_/g, ' '), fmtHa(p.areas_ha[k])); })));
    }
    box.appendChild(el('h3', { text: 'Parameters' }));
    box.appendChild(p.parameters && Object.keys(p.parameters).length ? json(p.parameters) : el('p', { class: 'help', text: 'defaults (none given)' }));
    var pv = p.provenance || {};
    box.appendChild(el('h3', { text: 'Provenance' }));
    box.appendChild(table(null, [
      row('Lineage', pv.lineage), row('Inputs', (pv.inputs || []).join(', ')),
      row('Software', pv.software ? Object.keys(pv.software).map(function (k) { return k + ' ' + pv.software[k]; }).join(', ') : null),
      row('Device', pv.device), row('Created', pv.created), row('Run', pv.run),
      row('Radiometry', nonEmpty(pv.radiometry) ? json(pv.radiometry) : null), row('Masking', nonEmpty(pv.masking) ? json(pv.masking) : null)
    ]));
    box.appendChild(el('h3', { text: 'Links' }));
    var links = el('ul', { class: 'links' });
    links.appendChild(el('li', null, el('a', { href: p.href, 'data-kind': 'item', text: 'STAC item (JSON)' })));
    var names = { zarr: 'Zarr store', cog: 'Cloud-Optimized GeoTIFF', geotiff: 'GeoTIFF', thumbnail: 'Quick-look (PNG)' };
    (p.assets || []).forEach(function (a) {
      links.appendChild(el('li', null, el('a', { href: a.href, 'data-kind': a.kind, 'data-key': a.key, text: (names[a.kind] || a.title) + ': ' + a.title }),
        a.size ? ' (' + fmtBytes(a.size) + (a.files ? ', ' + a.files + ' files' : '') + ')' : ''));
    });
    box.appendChild(links);
    var sums = (p.assets || []).filter(function (a) { return a.checksums; });
    if (sums.length) {
      box.appendChild(el('h3', { text: 'Checksums' }));
      box.appendChild(table(null, sums.map(function (a) {
        var text = Object.keys(a.checksums).map(function (k) { return k + ' ' + a.checksums[k]; }).join('; ');
        return row(a.key + (a.checksum_of ? ' (' + a.checksum_of + ')' : ''), el('span', { class: 'mono', text: text }));
      })));
      box.appendChild(el('p', { class: 'help', text: 'Every file of the unit is listed with its checksum in the STAC item (landpulse:files); `landpulse verify` checks them.' }));
    }
  }

  function renderCollections() {
    var box = $('collections'); box.textContent = '';
    box.appendChild(el('h2', { text: 'Collections' }));
    var t = el('table'), head = el('tr');
    ['Product', 'Items', 'Tiles', 'Dates', 'Mean values', 'Valid fraction', 'Areas (total)', 'Size'].forEach(function (h) {
      head.appendChild(el('th', { scope: 'col', text: h }));
    });
    t.appendChild(el('thead', null, head));
    var tb = el('tbody');
    (meta.collections || []).forEach(function (c) {
      var areas = c.areas_ha_total ? Object.keys(c.areas_ha_total).map(function (k) { return k.replace(/_/g, ' ') + ' ' + fmtHa(c.areas_ha_total[k]); }).join(', ') : '';
      tb.appendChild(el('tr', { 'data-collection': c.id },
        el('td', null, el('a', { href: c.href, text: c.id }), el('br'), el('span', { class: 'help', text: c.title || '' })),
        el('td', { text: String(c.items) }), el('td', { text: (c.tiles || []).slice(0, 12).join(', ') + ((c.tiles || []).length > 12 ? ', \u2026 (' + c.tiles.length + ' tiles)' : '') }),
        el('td', { text: c.first ? fmtDate(c.first) + ' \u2013 ' + fmtDate(c.last) : '' }),
        el('td', { text: c.value_range ? fmtNum(c.value_range[0], 3) + ' \u2013 ' + fmtNum(c.value_range[1], 3) : '' }),
        el('td', { text: c.valid_fraction_range ? c.valid_fraction_range.map(function (v) { return v.toFixed(3); }).join(' \u2013 ') : '' }),
        el('td', { text: areas }), el('td', { text: fmtBytes(c.bytes) })));
    });
    t.appendChild(tb);
    box.appendChild(t);
    if (meta.catalog && meta.catalog.href) box.appendChild(el('p', null, el('a', { href: meta.catalog.href, text: 'STAC catalogue (catalog.json)' })));
  }

  /* ---------------- filters ---------------- */
  function buildFilters() {
    var fs = $('f-products');
    products.forEach(function (p) {
      var id = 'f-product-' + p.replace(/[^A-Za-z0-9_-]/g, '_');
      var box = el('input', { type: 'checkbox', id: id, value: p, checked: 'checked' });
      box.addEventListener('change', function () { state.products[p] = box.checked; applyFilters(); });
      fs.appendChild(el('label', { for: id }, box, el('span', { class: 'swatch', style: 'background:' + productColour[p], 'aria-hidden': 'true' }), p));
    });
    var sel = $('f-tile');
    tiles.forEach(function (t) { sel.appendChild(el('option', { value: t, text: t })); });
    sel.addEventListener('change', function () { state.tile = sel.value; applyFilters(); });
    ['from', 'to'].forEach(function (k) {
      var input = $('f-' + k);
      if (days.length) { input.min = days[0]; input.max = days[days.length - 1]; }
      input.addEventListener('input', function () { state[k] = input.value; applyFilters(); });
      input.addEventListener('change', function () { state[k] = input.value; applyFilters(); });
    });
    var slider = $('f-time');
    slider.max = String(days.length);
    function timeLabel() {
      var text = state.time > 0 ? days[state.time - 1] : 'all dates';
      $('f-time-label').textContent = text;
      slider.setAttribute('aria-valuetext', text);
    }
    slider.addEventListener('input', function () { state.time = Number(slider.value); timeLabel(); applyFilters(); });
    timeLabel();
    var colour = $('f-colour');
    colour.addEventListener('change', function () { state.colour = colour.value; renderLegend(); draw(); renderList(); });
    $('f-reset').addEventListener('click', function () {
      products.forEach(function (p) { state.products[p] = true; });
      Array.prototype.forEach.call(fs.querySelectorAll('input'), function (b) { b.checked = true; });
      sel.value = ''; state.tile = ''; $('f-from').value = ''; $('f-to').value = ''; state.from = state.to = '';
      slider.value = '0'; state.time = 0; timeLabel();
      applyFilters();
    });
  }

  /* ---------------- start ---------------- */
  if (!DATA) {
    $('status').textContent = 'The index (' + CONFIG.index + ') could not be loaded: keep it beside this page.';
    api.errors.push('no index');
    return;
  }
  if ((meta.problems || []).length) {
    var pr = $('problems'); pr.hidden = false;
    pr.textContent = meta.problems.length + ' catalogue link(s) could not be followed: ' + meta.problems.slice(0, 3).join('; ') +
      (meta.problems.length > 3 ? '; \u2026' : '');
  }
  if (meta.title) $('title').textContent = meta.title;
  updateAttribution();
  buildFilters();
  renderCollections();
  api.t.filters = performance.now();
  resize();
  fit(features, true);
  api.t.fit = performance.now();
  applyFilters();
  api.t.applied = performance.now();
  // ready once the first frame with the footprints has been presented (the frame after this one)
  window.requestAnimationFrame(function () {
    window.requestAnimationFrame(function () {
      api.renderMs = performance.now();
      api.ready = true;
      document.documentElement.setAttribute('data-ready', 'true');
    });
  });
})();
