// The map: GridHub's own vector tiles of areas, coloured by count, resolution rate or change;
// no basemap, no glyphs, nothing fetched from outside GridHub.
import { Map as MapLibre, Popup, setWorkerUrl } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { query } from './api.js';
import { t } from './i18n.js';
import { h, num, pct, signedPct } from './format.js';
import { filters, levelAtZoom, levelLabel, state, zoomsOf } from './state.js';

setWorkerUrl(new URL(MAPLIBRE_WORKER, window.location.href).href); // eslint-disable-line no-undef

const NO_DATA = '#d5d8dc';
const RAMPS = {
  count: ['#fee8c8', '#fdbb84', '#fc8d59', '#e34a33', '#b30000'],
  rate: ['#edf8e9', '#bae4b3', '#74c476', '#31a354', '#006d2c'],
  change: ['#2166ac', '#92c5de', '#f7f7f7', '#f4a582', '#b2182b'],
};
const CHANGE_BREAKS = [-0.25, -0.05, 0.05, 0.25];

const VALUE = {
  count: ['get', 'reported'],
  rate: ['case', ['all', ['!=', ['get', 'reported'], null], ['!=', ['get', 'resolved'], null],
    ['>', ['get', 'reported'], 0]], ['/', ['get', 'resolved'], ['get', 'reported']], null],
  change: ['feature-state', 'change'],
};

function quantileBreaks(values, metric) {
  const sorted = values.filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return [];
  const picks = [0.2, 0.4, 0.6, 0.8].map((q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  const rounded = picks.map((v) => (metric === 'rate' ? Math.round(v * 100) / 100 : Math.max(1, Math.round(v))));
  return [...new Set(rounded)].filter((v, i, all) => i === 0 || v > all[i - 1]);
}

function colourExpression(metric, breaks) {
  const ramp = RAMPS[metric];
  const value = VALUE[metric];
  const stops = breaks.length ? ['step', value, ramp[0], ...breaks.flatMap((b, i) => [b, ramp[i + 1]])] : ramp[2];
  return ['case', ['==', value, null], NO_DATA, stops];
}

function boundsOf(geometry) {
  let west = 180, south = 90, east = -180, north = -90;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      west = Math.min(west, c[0]); east = Math.max(east, c[0]);
      south = Math.min(south, c[1]); north = Math.max(north, c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [[west, south], [east, north]];
}

export class AreaMap {
  constructor(container, { onSelect, onReady }) {
    this.onSelect = onSelect;
    this.legendKey = null;
    this.breaks = [];
    this.changes = new Map();
    this.legend = h('div', { class: 'legend', 'data-testid': 'legend' });
    this.map = new MapLibre({
      container,
      style: {
        version: 8,
        sources: {
          areas: { type: 'vector', tiles: [this.tilesUrl()], minzoom: 0, maxzoom: 20, promoteId: 'code' },
          selected: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
          alerts: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
          hotspots: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
        },
        layers: [
          { id: 'background', type: 'background', paint: { 'background-color': '#f4f6f8' } },
          { id: 'areas-fill', type: 'fill', source: 'areas', 'source-layer': 'areas',
            paint: { 'fill-color': colourExpression(state.metric, []),
              'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 1, 0.85] } },
          { id: 'areas-line', type: 'line', source: 'areas', 'source-layer': 'areas',
            paint: { 'line-color': '#ffffff', 'line-width': 0.8 } },
          { id: 'hotspots', type: 'fill', source: 'hotspots',
            paint: { 'fill-color': '#7b3294', 'fill-opacity': 0.35 } },
          { id: 'alerts', type: 'line', source: 'alerts',
            paint: { 'line-color': ['match', ['get', 'severity'], 'red', '#d7191c', '#f5a300'],
              'line-width': 3, 'line-dasharray': [2, 1] } },
          { id: 'selected', type: 'line', source: 'selected',
            paint: { 'line-color': '#1b2a41', 'line-width': 2.5 } },
        ],
      },
      attributionControl: false,
      fadeDuration: 0, // nothing fades in: the first view is ready when its areas are drawn
      dragRotate: false,
      center: [0, 0],
      zoom: 1,
    });
    this.map.getContainer().append(this.legend);
    this.popup = new Popup({ closeButton: false, closeOnClick: false, maxWidth: '260px' });
    this.hovered = null;
    this.map.on('mousemove', 'areas-fill', (e) => this.hover(e));
    this.map.on('mouseleave', 'areas-fill', () => this.unhover());
    this.map.on('click', 'areas-fill', (e) => {
      const code = e.features?.[0]?.properties?.code;
      if (code) this.onSelect(code);
    });
    this.map.on('sourcedata', (e) => {
      if (e.sourceId === 'areas' && e.isSourceLoaded) this.refreshLegend();
    });
    this.map.on('idle', () => {
      this.refreshLegend();
      if (onReady) { onReady(); onReady = null; }
    });
  }

  // Runs fn once the style (and so every source) is there.
  ready(fn) {
    if (this.map.isStyleLoaded()) fn();
    else this.map.once('load', fn);
  }

  tilesUrl() {
    // The key's role and scope in the URL: a tile cached by the browser for one login is never
    // shown to the next (tiles carry max-age).
    const who = `${state.ctx.role}-${state.ctx.scope.code}`;
    return `${window.location.origin}/tiles/areas/{z}/{x}/{y}.mvt${query({ ...filters(), v: who })}`;
  }

  // Filters changed: new tiles, new colours.
  reload() {
    this.ready(() => this.map.getSource('areas').setTiles([this.tilesUrl()]));
    this.legendKey = null;
  }

  setMetric() {
    this.legendKey = null;
    this.refreshLegend();
  }

  // Change against the previous period, per area, from GET /stats (tiles carry no change).
  setChanges(rows) {
    this.ready(() => this.applyChanges(rows));
  }

  applyChanges(rows) {
    for (const code of this.changes.keys()) {
      this.map.setFeatureState({ source: 'areas', sourceLayer: 'areas', id: code }, { change: null });
    }
    this.changes = new Map(rows.map((r) => [r.code, r.change_ratio]));
    for (const [code, change] of this.changes) {
      this.map.setFeatureState({ source: 'areas', sourceLayer: 'areas', id: code }, { change });
    }
    this.legendKey = null;
    this.refreshLegend();
  }

  showArea(area, childSlot) {
    if (!area.geometry) return;
    this.ready(() => this.map.getSource('selected').setData({ type: 'Feature', geometry: area.geometry, properties: {} }));
    // The camera moves at once, before the style has loaded: the first tiles asked for are then
    // the area's, not the world's.
    const camera = this.map.cameraForBounds(boundsOf(area.geometry), { padding: 40 });
    if (!camera) return;
    // Zoom to where the tiles draw the children: a click drills one level down.
    const zooms = zoomsOf(childSlot ?? area.level);
    if (zooms) camera.zoom = Math.min(Math.max(camera.zoom, zooms.minzoom), zooms.maxzoom + 0.9);
    this.map.jumpTo(camera);
  }

  showWarnings(features) {
    this.ready(() => this.map.getSource('alerts').setData({ type: 'FeatureCollection', features }));
  }

  showHotspots(collection) {
    this.ready(() => this.map.getSource('hotspots').setData(collection));
  }

  hover(e) {
    const f = e.features?.[0];
    if (!f) return;
    this.map.getCanvas().style.cursor = 'pointer';
    if (this.hovered !== f.id) {
      this.unhover();
      this.hovered = f.id;
      this.map.setFeatureState({ source: 'areas', sourceLayer: 'areas', id: f.id }, { hover: true });
    }
    const p = f.properties;
    const rate = p.reported > 0 && p.resolved !== undefined ? p.resolved / p.reported : null;
    const change = this.changes.get(p.code);
    const rows = [
      [t('hover.reported'), p.reported === undefined ? t('hover.hidden') : num(p.reported)],
      [t('hover.resolved'), p.resolved === undefined ? t('hover.hidden') : num(p.resolved)],
      [t('hover.rate'), pct(rate)],
    ];
    if (change !== undefined) rows.push([t('hover.change'), signedPct(change)]);
    const body = h('div', { class: 'hover', 'data-testid': 'hover' },
      h('strong', {}, p.name), h('span', { class: 'muted' }, ` ${levelLabel(p.level)}`),
      h('table', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
    this.popup.setLngLat(e.lngLat).setDOMContent(body).addTo(this.map);
  }

  unhover() {
    if (this.hovered !== null) {
      this.map.setFeatureState({ source: 'areas', sourceLayer: 'areas', id: this.hovered }, { hover: false });
    }
    this.hovered = null;
    this.map.getCanvas().style.cursor = '';
    this.popup.remove();
  }

  // Breaks from the areas drawn now (the level the zoom shows), recomputed when that changes.
  refreshLegend() {
    const level = levelAtZoom(this.map.getZoom());
    const key = `${state.metric}|${level}|${this.tilesUrl()}`;
    if (key === this.legendKey || !this.map.getSource('areas') || !this.map.isSourceLoaded('areas')) return;
    const metric = state.metric;
    if (metric === 'change') {
      this.breaks = CHANGE_BREAKS;
    } else {
      const features = this.map.querySourceFeatures('areas', { sourceLayer: 'areas' })
        .filter((f) => f.properties.level === level);
      if (!features.length) return; // not drawn yet: the next tiles loaded call again
      const values = features.map((f) => {
        const p = f.properties;
        if (metric === 'count') return p.reported ?? null;
        return p.reported > 0 && p.resolved !== undefined ? p.resolved / p.reported : null;
      });
      this.breaks = quantileBreaks(values, metric);
    }
    this.legendKey = key;
    this.map.setPaintProperty('areas-fill', 'fill-color', colourExpression(metric, this.breaks));
    this.drawLegend(level);
  }

  drawLegend(level) {
    const metric = state.metric;
    const show = (v) => (metric === 'count' ? num(v) : metric === 'rate' ? pct(v, 0) : signedPct(v));
    const ramp = RAMPS[metric];
    const items = [];
    const b = this.breaks;
    if (!b.length) items.push([ramp[2], '']);
    else {
      items.push([ramp[0], `< ${show(b[0])}`]);
      for (let i = 0; i < b.length; i += 1) {
        items.push([ramp[i + 1], i + 1 < b.length ? `${show(b[i])} – ${show(b[i + 1])}` : `≥ ${show(b[i])}`]);
      }
    }
    items.push([NO_DATA, t('legend.nodata')]);
    this.legend.replaceChildren(
      h('div', { class: 'legend-title' }, t('legend.title', { metric: t(`metric.${metric}`), level: levelLabel(level) })),
      ...items.map(([colour, text]) => h('div', { class: 'legend-row' },
        h('span', { class: 'swatch', style: `background:${colour}` }), text)),
    );
    if (metric === 'change') this.legend.append(h('div', { class: 'muted' }, t('legend.change_note')));
  }
}
