// What the page shows: the caller's context, the selected area and the filters.
import { label, language } from './i18n.js';

export const state = {
  ctx: null,         // GET /session
  code: null,        // the selected area's code
  area: null,        // GET /areas/{code}: the selected area, its ancestors and children
  preset: 'last365', // all | last30 | last90 | last365 | custom
  from: '',
  to: '',
  kind: '',
  category: '',
  metric: 'count',   // count | rate | change
  tab: 'overview',
};

const PRESET_DAYS = { last30: 30, last90: 90, last365: 365 };

function shift(isoDay, days) {
  const d = new Date(`${isoDay}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// The period as `from` / `to` days: presets end on the last day the rollups hold.
export function period() {
  if (state.preset === 'custom') return { from: state.from || null, to: state.to || null };
  const last = state.ctx?.data_span?.last_day;
  const days = PRESET_DAYS[state.preset];
  if (!days || !last) return { from: null, to: null };
  return { from: shift(last, 1 - days), to: last };
}

export function filters() {
  return { ...period(), kind: state.kind || null, category: state.category || null };
}

// The bucket a time series uses for the period: days for a month, weeks for a quarter.
export function interval() {
  const { from, to } = period();
  if (!from || !to) return 'month';
  const days = (Date.parse(to) - Date.parse(from)) / 86400000 + 1;
  return days <= 45 ? 'day' : days <= 120 ? 'week' : 'month';
}

// Sources and quality records (and the Data Docs) are the whole city's: the API answers them
// only to keys scoped to the whole city, so the page offers them to no other key.
export function citywide() {
  const ctx = state.ctx;
  return Boolean(ctx && ctx.scope.code === ctx.city.code);
}

export function levels() {
  return state.ctx?.city?.levels ?? [];
}

// The API names levels as the city's profile does; the stored slot is accepted too.
function levelSpec(level) {
  return levels().find((l) => l.name === level || l.slot === level);
}

// A level as the city names it in its own language, or from the messages in another.
export function levelLabel(slot) {
  const spec = levelSpec(slot);
  const cityLanguage = state.ctx?.city?.languages?.[0];
  if (spec && cityLanguage === language()) return spec.label;
  const text = label('level', slot);
  return text === slot && spec ? spec.name : text;
}

// The level below, by the name the API takes in `level=`.
export function childSlot(slot) {
  const all = levels();
  const i = all.indexOf(levelSpec(slot));
  return i >= 0 && i + 1 < all.length ? all[i + 1].name : null;
}

// The zoom range at which the areas tiles draw a level (from GET /session).
export function zoomsOf(slot) {
  const spec = levelSpec(slot);
  return state.ctx?.tile_levels?.find((l) => l.level === slot || l.level === spec?.name) ?? null;
}

export function levelAtZoom(zoom) {
  const z = Math.floor(zoom);
  return state.ctx?.tile_levels?.find((l) => z >= l.minzoom && z <= l.maxzoom)?.level ?? null;
}
