// The overview of the selected area: its summary, its time series, its children ranked.
import { get, query } from '../api.js';
import { label, t } from '../i18n.js';
import { h, hours, num, pct, signedPct } from '../format.js';
import { filters, interval, levelLabel, state } from '../state.js';

function kpi(name, value, testid, extra = null) {
  return h('div', { class: 'kpi' }, h('div', { class: 'kpi-name' }, name),
    h('div', { class: 'kpi-value', 'data-testid': testid }, value), extra);
}

function bars(title, counts, prefix) {
  const entries = Object.entries(counts || {}).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  const top = Math.max(1, ...entries.map(([, n]) => n ?? 0));
  return h('div', { class: 'bars' }, h('h4', {}, title), entries.map(([code, n]) => h('div', { class: 'bar-row' },
    h('span', { class: 'bar-label' }, label(prefix, code)),
    h('span', { class: 'bar' }, h('span', { style: `width:${((n ?? 0) / top) * 100}%` })),
    h('span', { class: 'bar-n' }, num(n)))));
}

function summaryView(s) {
  const change = s.change
    ? h('div', { class: s.change.difference > 0 ? 'up' : 'down' },
      `${signedPct(s.change.ratio)} (${s.change.difference > 0 ? '+' : ''}${num(s.change.difference)})`)
    : h('div', { class: 'muted' }, t('summary.no_change'));
  const k = s.suppressed_below;
  return h('section', { class: 'summary', 'data-testid': 'summary' },
    h('div', { class: 'kpis' },
      kpi(t('summary.total'), num(s.total), 'summary-total'),
      kpi(t('summary.resolution_rate'), pct(s.resolution_rate), 'summary-resolution'),
      kpi(t('summary.mediation_rate'), pct(s.mediation?.success_rate), 'summary-mediation'),
      kpi(t('summary.median_hours'), s.median_hours_to_close === null ? '–'
        : t('summary.hours', { n: hours(s.median_hours_to_close) }), 'summary-median'),
      kpi(t('summary.open_at_end'), num(s.open_at_end), 'summary-open'),
      kpi(t('summary.change'), change, 'summary-change')),
    k ? h('p', { class: 'muted' }, t('summary.suppressed', { k })) : null,
    h('div', { class: 'breakdowns' }, bars(t('summary.by_kind'), s.by_kind, 'kind'),
      bars(t('summary.by_category'), s.by_category, 'category')));
}

const SORTS = {
  count: (r) => r.reported ?? -1,
  rate: (r) => r.resolution_rate ?? -1,
  change: (r) => r.change_ratio ?? -Infinity,
};

function rankingView(stats, onSelect) {
  const rows = [...stats.areas].sort((a, b) => SORTS[state.metric](b) - SORTS[state.metric](a));
  if (!rows.length) return h('p', { class: 'muted' }, t('ranking.none'));
  return h('section', {},
    h('h3', {}, t('ranking.title', { level: levelLabel(stats.level) })),
    h('table', { class: 'grid-table', 'data-testid': 'ranking' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, t('ranking.area')),
        h('th', { class: 'n' }, t('ranking.reported')), h('th', { class: 'n' }, t('ranking.rate')),
        h('th', { class: 'n' }, t('ranking.change')), h('th', { class: 'n' }, t('ranking.open')))),
      h('tbody', {}, rows.map((r, i) => h('tr', { class: 'clickable', dataset: { code: r.code }, onclick: () => onSelect(r.code) },
        h('td', {}, i + 1), h('td', {}, r.name), h('td', { class: 'n' }, num(r.reported)),
        h('td', { class: 'n' }, pct(r.resolution_rate)), h('td', { class: 'n' }, signedPct(r.change_ratio)),
        h('td', { class: 'n' }, num(r.open_at_end)))))));
}

// Loads and draws the overview; hands the children's stats back (the map colours change by them).
export async function renderOverview(container, code, onSelect) {
  const f = filters();
  // /stats lists the level below the parent by default (the city's own next level)
  const [summary, series, stats, { drawSeries }] = await Promise.all([
    get(`/areas/${code}/summary${query(f)}`),
    get(`/areas/${code}/timeseries${query({ ...f, interval: interval() })}`),
    get(`/stats${query({ ...f, parent: code })}`),
    import('./chart.js'),
  ]);
  const chartBox = h('div', { class: 'chart', 'data-testid': 'chart' });
  container.replaceChildren(
    summaryView(summary),
    h('section', {}, h('h3', {}, t('chart.title', { interval: t(`interval.${series.interval}`) })), chartBox),
    stats.level !== summary.area.level ? rankingView(stats, onSelect) : ''); // the finest level: none below
  drawSeries(chartBox, series);
  return stats.level !== summary.area.level ? stats.areas : [];
}
