// Case rows for analysts, masked as the API masks them, a page at a time; CSV of them all.
import { get, query, request } from '../api.js';
import { label, t } from '../i18n.js';
import { day, h } from '../format.js';
import { filters, state } from '../state.js';

const PAGE = 50;
const EXPORT_PAGE = 1000;

function params(extra = {}) {
  return { area: state.code, ...filters(), ...extra };
}

export async function renderCases(container) {
  if (!state.ctx.sees_cases) {
    container.replaceChildren(h('p', { class: 'muted' }, t('cases.analysts_only')));
    return;
  }
  const body = h('tbody', {});
  const more = h('button', { class: 'small', 'data-testid': 'cases-more' }, t('cases.more'));
  const status = h('span', { class: 'muted' });
  const exportButton = h('button', { class: 'small', 'data-testid': 'cases-export' }, t('cases.export'));
  let next = null;
  const load = async () => {
    const page = await get(`/cases${query(params({ limit: PAGE, after: next }))}`);
    for (const c of page.cases) {
      body.append(h('tr', {}, h('td', {}, c.case_id), h('td', {}, day(c.report_day)), h('td', {}, label('kind', c.kind)),
        h('td', {}, label('category', c.category)), h('td', {}, label('status', c.status)),
        h('td', {}, c.address ?? ''), h('td', {}, c.source)));
    }
    next = page.next;
    more.hidden = next === null;
    if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, t('cases.none'))));
  };
  more.addEventListener('click', load);
  exportButton.addEventListener('click', () => exportCsv(status, exportButton));
  container.replaceChildren(
    h('div', { class: 'row' }, h('h3', {}, t('cases.title')), exportButton, status),
    h('table', { class: 'grid-table', 'data-testid': 'cases' },
      h('thead', {}, h('tr', {}, ['id', 'day', 'kind', 'category', 'status', 'address', 'source']
        .map((c) => h('th', {}, t(`cases.${c}`))))), body),
    more);
  await load();
}

// Every page of the CSV, following each page's `Link: rel="next"`, joined under one header.
async function exportCsv(status, button) {
  button.disabled = true;
  const parts = [];
  let url = `/cases${query(params({ limit: EXPORT_PAGE, format: 'csv' }))}`;
  let rows = 0;
  try {
    while (url) {
      const response = await request(url, { raw: true });
      const text = await response.text();
      const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
      parts.push((parts.length ? lines.slice(1) : lines).join('\n'));
      rows += lines.length - 1;
      status.textContent = t('cases.exporting', { n: rows });
      const link = response.headers.get('Link');
      const found = link && link.match(/<([^>]+)>;\s*rel="next"/);
      url = found ? new URL(found[1]).pathname + new URL(found[1]).search : null;
    }
    const blob = new Blob([`${parts.join('\n')}\n`], { type: 'text/csv;charset=utf-8' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `cases-${state.code}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = '';
  } finally {
    button.disabled = false;
  }
}
