// The sources page: each feed's last run and counts, what waits in quarantine and why, and
// how fresh its newest record is.
import { get } from '../api.js';
import { label, t } from '../i18n.js';
import { day, h, num, pct } from '../format.js';

// Reasons rows of a run were quarantined: its failed expectations that quarantine, with counts.
function reasons(run) {
  const found = (run?.validation?.expectations ?? [])
    .filter((e) => e.action === 'quarantine' && e.unexpected > 0)
    .map((e) => [e.message || e.key, e.unexpected]);
  if (run?.validation?.mapping_failed) found.push(['mapping', run.validation.mapping_failed]);
  return found;
}

export async function renderSources(container) {
  const [{ sources }, { runs }] = await Promise.all([get('/sources'), get('/quality/runs?limit=100')]);
  const lastRun = new Map();
  for (const r of runs) if (!r.replay && !lastRun.has(r.source)) lastRun.set(r.source, r);
  if (!sources.length) {
    container.replaceChildren(h('p', { class: 'muted' }, t('sources.none')));
    return;
  }
  const head = ['name', 'agency', 'last_run', 'read', 'loaded', 'quarantined', 'duplicates', 'open_quarantine', 'fresh'];
  container.replaceChildren(
    h('h3', {}, t('sources.title')),
    h('table', { class: 'grid-table', 'data-testid': 'sources' },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { class: ['name', 'agency', 'last_run', 'fresh'].includes(c) ? '' : 'n' }, t(`sources.${c}`))))),
      h('tbody', {}, sources.map((s) => h('tr', {},
        h('td', {}, s.name), h('td', {}, s.agency ?? ''),
        h('td', {}, s.last_run ? h('span', { class: `run ${s.last_run.status}` }, label('run_status', s.last_run.status)) : '–',
          s.last_run ? h('div', { class: 'muted' }, day(s.last_run.finished_at ?? s.last_run.started_at)) : null),
        h('td', { class: 'n' }, num(s.counts?.read)), h('td', { class: 'n' }, num(s.counts?.loaded)),
        h('td', { class: 'n' }, num(s.counts?.quarantined), h('div', { class: 'muted' }, pct(s.quarantine_rate, 2))),
        h('td', { class: 'n' }, num(s.counts?.duplicates)), h('td', { class: 'n' }, num(s.open_quarantine)),
        h('td', {}, day(s.freshness?.newest_reported_at),
          s.freshness?.age_hours !== null && s.freshness?.age_hours !== undefined
            ? h('div', { class: 'muted' }, t('sources.age', { n: num(Math.round(s.freshness.age_hours)) })) : null))))),
    h('h3', {}, t('sources.reasons')),
    h('table', { class: 'grid-table', 'data-testid': 'quarantine-reasons' },
      h('thead', {}, h('tr', {}, h('th', {}, t('sources.name')), h('th', {}, t('sources.reason')), h('th', { class: 'n' }, t('sources.rows')))),
      h('tbody', {}, [...lastRun.values()].flatMap((run) => reasons(run).map(([why, n]) => h('tr', {},
        h('td', {}, run.source), h('td', {}, why), h('td', { class: 'n' }, num(n))))))),
    h('h3', {}, t('sources.runs')),
    h('table', { class: 'grid-table' },
      h('thead', {}, h('tr', {}, ['run', 'name', 'last_run', 'started', 'read', 'loaded', 'quarantined']
        .map((c) => h('th', {}, t(`sources.${c}`))))),
      h('tbody', {}, runs.slice(0, 20).map((r) => h('tr', {},
        h('td', {}, r.run_id), h('td', {}, r.source), h('td', {}, label('run_status', r.status)),
        h('td', {}, String(r.started_at ?? '').replace('T', ' ').slice(0, 19)),
        h('td', { class: 'n' }, num(r.counts.read)), h('td', { class: 'n' }, num(r.counts.loaded)),
        h('td', { class: 'n' }, num(r.counts.quarantined)))))));
}
