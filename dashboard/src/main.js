// GridHub's dashboard: log in with a key, then the map and the panels of the selected area.
import './style.css';
import { answer, ApiError, get, query, request } from './api.js';
import { label, language, pickLanguage, setLanguage, t } from './i18n.js';
import { h } from './format.js';
import { childSlot, citywide, levelLabel, state } from './state.js';
import { AreaMap } from './map.js';
import { renderOverview } from './panels/overview.js';
import { loadWarnings, renderWarnings, warningFeatures } from './panels/warnings.js';
import { renderCases } from './panels/cases.js';
import { renderSources } from './panels/sources.js';

const root = document.getElementById('app');
let areaMap = null;
let panel = null;
let crumbs = null;
let errorBox = null;
let drawn = 0; // which drill-down the panels show: a slower, older answer never overwrites a newer one

function showError(err) {
  if (!errorBox) return;
  errorBox.textContent = t('error.request', { detail: err.message });
  errorBox.hidden = false;
}

// --- login ----------------------------------------------------------------------------------

function loginView(message = '') {
  setLanguage(pickLanguage());
  const input = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off', required: true,
    placeholder: 'ghk_…', 'data-testid': 'key' });
  const status = h('p', { class: 'error', 'data-testid': 'login-error' }, message);
  const form = h('form', { class: 'login', onsubmit: async (e) => {
    e.preventDefault();
    try {
      state.ctx = await request('/session', { method: 'POST', body: { key: input.value } });
      start();
    } catch (err) {
      status.textContent = t('login.failed', { detail: err.message });
    }
  } },
  h('h1', {}, t('login.title')), h('p', { class: 'muted' }, t('login.help')),
  h('label', { for: 'key' }, t('login.key')), input,
  h('button', { type: 'submit', 'data-testid': 'login' }, t('login.submit')), status);
  root.replaceChildren(form);
  input.focus();
}

// --- header and filters ---------------------------------------------------------------------

function select(name, options, value, onchange, testid) {
  return h('label', { class: 'filter' }, h('span', {}, name),
    h('select', { 'data-testid': testid, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

function header() {
  const ctx = state.ctx;
  const other = language() === 'zh' ? 'en' : 'zh';
  return h('header', {},
    h('div', { class: 'brand' }, t('app.title'), h('span', { class: 'city' }, ctx.city.name)),
    h('div', { class: 'who', 'data-testid': 'who' },
      `${t('header.scope')}: ${ctx.scope.name ?? ctx.scope.code} · ${t('header.role')}: ${label('role', ctx.role)}`),
    ctx.sees_cases && citywide() ? h('a', { href: '/quality/docs/', target: '_blank', rel: 'noopener', 'data-testid': 'datadocs' },
      t('header.datadocs')) : null,
    h('button', { class: 'link', 'data-testid': 'language', onclick: () => {
      setLanguage(other, true);
      start();
    } }, t('header.language')),
    h('button', { class: 'link', 'data-testid': 'logout', onclick: async () => {
      await request('/session', { method: 'DELETE' });
      // the next key may not see this area or tab: it starts from its own scope's overview
      Object.assign(state, { ctx: null, code: null, area: null, tab: 'overview' });
      areaMap?.map.remove();
      areaMap = null;
      loginView();
    } }, t('header.logout')));
}

function filterBar() {
  const ctx = state.ctx;
  const presets = ['all', 'last30', 'last90', 'last365', 'custom'].map((p) => [p, t(`filters.${p}`)]);
  const categories = ctx.city.categories ?? [];
  const refilter = () => { areaMap.reload(); drillTo(state.code, { move: false }); };
  const dates = h('span', { class: 'dates', hidden: state.preset !== 'custom' },
    h('label', { class: 'filter' }, h('span', {}, t('filters.from')),
      h('input', { type: 'date', value: state.from, 'data-testid': 'from',
        onchange: (e) => { state.from = e.target.value; refilter(); } })),
    h('label', { class: 'filter' }, h('span', {}, t('filters.to')),
      h('input', { type: 'date', value: state.to, 'data-testid': 'to',
        onchange: (e) => { state.to = e.target.value; refilter(); } })));
  return h('div', { class: 'filters' },
    select(t('filters.period'), presets, state.preset, (v) => {
      state.preset = v;
      dates.hidden = v !== 'custom';
      if (v !== 'custom' || (state.from && state.to)) refilter();
    }, 'period'),
    dates,
    select(t('filters.kind'), [['', t('filters.any')], ...ctx.city.kinds.map((k) => [k, label('kind', k)])],
      state.kind, (v) => { state.kind = v; refilter(); }, 'kind'),
    select(t('filters.category'), [['', t('filters.any')], ...categories.map((c) => [c, label('category', c)])],
      state.category, (v) => { state.category = v; refilter(); }, 'category'),
    select(t('filters.metric'), ['count', 'rate', 'change'].map((m) => [m, t(`metric.${m}`)]), state.metric, (v) => {
      state.metric = v;
      areaMap.setMetric();
      if (state.tab === 'overview') drawPanel();
    }, 'metric'));
}

// --- panels ---------------------------------------------------------------------------------

const TABS = ['overview', 'warnings', 'cases', 'sources'];

// The tabs this key may open: case rows for analysts and admins, sources for the whole city.
function tabs() {
  return TABS.filter((tab) => (tab !== 'cases' || state.ctx.sees_cases) && (tab !== 'sources' || citywide()));
}

function tabBar() {
  return h('nav', { class: 'tabs' }, tabs().map((tab) =>
    h('button', { class: tab === state.tab ? 'tab active' : 'tab', 'data-testid': `tab-${tab}`, onclick: (e) => {
      state.tab = tab;
      for (const b of e.target.parentElement.children) b.classList.toggle('active', b === e.target);
      drawPanel();
    } }, t(`tabs.${tab}`))));
}

function breadcrumb() {
  const a = state.area;
  const chain = [...a.ancestors].reverse().concat([a]);
  crumbs.replaceChildren(...chain.flatMap((c, i) => [
    i ? h('span', { class: 'sep' }, '›') : null,
    c.code === a.code
      ? h('strong', { 'data-testid': 'area-name', dataset: { code: c.code, level: c.level } }, c.name,
        h('span', { class: 'muted' }, ` ${levelLabel(c.level)}`))
      : h('a', { href: '#', onclick: (e) => { e.preventDefault(); drillTo(c.code); } }, c.name),
  ].filter(Boolean)));
}

let warningsShown = [];

async function drawPanel() {
  const mine = drawn;
  const box = h('div', { class: 'panel-body', 'data-testid': `panel-${state.tab}`, 'aria-busy': 'true' });
  panel.replaceChildren(box);
  try {
    if (state.tab === 'overview') {
      const rows = await renderOverview(box, state.code, (code) => drillTo(code));
      if (mine === drawn) areaMap.setChanges(rows);
    } else if (state.tab === 'warnings') {
      renderWarnings(box, warningsShown);
    } else if (state.tab === 'cases') {
      await renderCases(box);
    } else {
      await renderSources(box);
    }
    box.setAttribute('aria-busy', 'false');
  } catch (err) {
    showError(err);
  }
}

// Select an area: its outline and zoom on the map, its ancestors in the breadcrumb, its panels.
// Everything is asked at once: the panels need only the area's code.
async function drillTo(code, { move = true } = {}) {
  drawn += 1;
  const mine = drawn;
  state.code = code;
  const area = get(`/areas/${code}${query({ geometry: true, simplify: 0.0001 })}`).then((found) => {
    if (mine !== drawn) return;
    state.area = found;
    breadcrumb();
    if (move) areaMap.showArea(found, childSlot(found.level));
  });
  const warnings = loadWarnings(code).then(async (found) => {
    if (mine !== drawn) return;
    warningsShown = found;
    if (state.tab === 'warnings') drawPanel();
    areaMap.showWarnings(await warningFeatures(found));
  });
  const hotspots = get(`/hotspots${query({ area: code })}`).then((c) => mine === drawn && areaMap.showHotspots(c));
  try {
    await Promise.all([area, drawPanel(), warnings, hotspots]);
    if (mine === drawn) document.body.dataset.shown = code;
  } catch (err) {
    showError(err);
  }
}

// --- the page -------------------------------------------------------------------------------

function start() {
  const ctx = state.ctx;
  setLanguage(pickLanguage(ctx.city.languages));
  document.title = `${t('app.title')} · ${ctx.city.name}`;
  areaMap?.map.remove();
  const mapBox = h('div', { class: 'map', 'data-testid': 'map' });
  crumbs = h('div', { class: 'crumbs', 'data-testid': 'crumbs' });
  panel = h('div', { class: 'panel' });
  errorBox = h('div', { class: 'error banner', hidden: true, onclick: () => { errorBox.hidden = true; } });
  root.replaceChildren(header(), filterBar(), errorBox,
    h('main', {}, mapBox, h('aside', {}, crumbs, tabBar(), panel)));
  areaMap = new AreaMap(mapBox, {
    onSelect: (code) => drillTo(code),
    onReady: () => performance.mark('gridhub-map-ready'),
  });
  const first = state.code ?? ctx.scope.code;
  drillTo(first).then(() => performance.mark('gridhub-panel-ready'));
}

async function boot() {
  setLanguage(pickLanguage());
  root.replaceChildren(h('p', { class: 'muted' }, t('app.loading')));
  try {
    // index.html asked already, while this script loaded
    const asked = window.gridhubSession ?? fetch('/session', { credentials: 'same-origin' });
    window.gridhubSession = null;
    state.ctx = await answer(await asked);
    start();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) loginView();
    else loginView(t('error.request', { detail: err.message }));
  }
}

boot();
