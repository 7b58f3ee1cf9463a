// Open early warnings in the selected area (and every area inside it), with acknowledgement.
import { get, query, request } from '../api.js';
import { label, t } from '../i18n.js';
import { day, h, num } from '../format.js';
import { levelLabel, state } from '../state.js';

const OPEN = ['new', 'ongoing', 'acknowledged'];
const ACKNOWLEDGEABLE = new Set(['new', 'ongoing']);
const MAP_AREAS = 30; // outlines drawn on the map: the newest alerts' areas

export function signalText(signal) {
  const [prefix, value] = signal.includes(':') ? signal.split(/:(.*)/s) : [signal, ''];
  if (prefix === 'total') return t('signal.total');
  const shown = prefix === 'kind' ? label('kind', value) : prefix === 'category' ? label('category', value) : value;
  return t(`signal.${prefix}`, { value: shown });
}

export async function loadWarnings(area) {
  return (await get(`/warnings${query({ area, status: OPEN, limit: 200 })}`)).warnings;
}

// Outlines of the warned areas for the map: one geometry request per area (cached answers).
export async function warningFeatures(warnings) {
  const codes = [...new Set(warnings.map((w) => w.area_code))].slice(0, MAP_AREAS);
  const severity = new Map();
  for (const w of warnings) if (!severity.has(w.area_code) || w.level === 'red') severity.set(w.area_code, w.level);
  const areas = await Promise.all(codes.map((c) => get(`/areas/${c}${query({ geometry: true, simplify: 0.0002 })}`)));
  return areas.filter((a) => a.geometry).map((a) => ({
    type: 'Feature', geometry: a.geometry, properties: { code: a.code, severity: severity.get(a.code) } }));
}

function row(w, onChange) {
  const may = state.ctx.may_acknowledge && ACKNOWLEDGEABLE.has(w.status);
  const ack = may ? h('button', {
    class: 'small', 'data-testid': `ack-${w.alert_id}`,
    onclick: async (e) => {
      e.target.disabled = true;
      const updated = await request(`/warnings/${w.alert_id}/ack`, { method: 'POST', body: {} });
      onChange(updated);
    },
  }, t('warnings.ack')) : null;
  return h('tr', { dataset: { alert: w.alert_id } },
    h('td', {}, h('span', { class: `badge ${w.level}` }, label('severity', w.level))),
    h('td', {}, w.area_name ?? w.area_code, h('div', { class: 'muted' }, levelLabel(w.area_level))),
    h('td', {}, signalText(w.signal)),
    h('td', {}, `${day(w.first_day)} – ${day(w.last_day)}`),
    h('td', { class: 'n' }, `${num(w.observed === null ? null : Math.round(w.observed))} / ${num(w.expected === null ? null : Math.round(w.expected * 10) / 10)}`),
    h('td', { 'data-testid': `status-${w.alert_id}` }, label('alert_status', w.status),
      w.acknowledged_by ? h('div', { class: 'muted' }, t('warnings.acked_by', { who: w.acknowledged_by })) : null),
    h('td', {}, ack));
}

export function renderWarnings(container, warnings) {
  const draw = () => {
    container.replaceChildren(h('h3', {}, t('warnings.title')), warnings.length
      ? h('table', { class: 'grid-table', 'data-testid': 'warnings' },
        h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, t('warnings.area')), h('th', {}, t('warnings.signal')),
          h('th', {}, t('warnings.days')), h('th', { class: 'n' }, t('warnings.observed')),
          h('th', {}, t('warnings.status')), h('th', {}, ''))),
        h('tbody', {}, warnings.map((w) => row(w, (updated) => {
          Object.assign(w, updated);
          draw();
        }))))
      : h('p', { class: 'muted' }, t('warnings.none')));
  };
  draw();
}
