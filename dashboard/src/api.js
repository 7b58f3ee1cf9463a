// Every request the page makes: same origin, the session cookie, one-line errors.
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function detailOf(body, status) {
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('; ');
  return `HTTP ${status}`;
}

export async function request(path, { method = 'GET', body, raw = false } = {}) {
  const headers = { 'X-Requested-With': 'gridhub' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(response, raw);
}

// A response's JSON (or the response itself when raw); an ApiError when it is not a success.
export async function answer(response, raw = false) {
  if (!response.ok) {
    let parsed = null;
    try { parsed = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, detailOf(parsed, response.status));
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export const get = (path) => request(path);

// A query string from an object, leaving out empty values; arrays repeat the name.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(name, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
