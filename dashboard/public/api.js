// Talks to the dashboard's JSON API. Every failure becomes an ApiError carrying the server's
// `{statusCode, code, message}` so the page can show it instead of swallowing it.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', ...init, headers: { accept: 'application/json', ...(init.headers ?? {}) } });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the dashboard did not answer (${err.message})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: fall through to the generic message below
  }
  if (!res.ok) {
    throw new ApiError(res.status, body?.code ?? 'HTTP', body?.message ?? `HTTP ${res.status}`);
  }
  return body;
}

export function putThreads(app, body) {
  return putSetting(app, 'threads', body);
}

/** Answers once the new count serves: added workers listen, the surplus drained. */
export function putWorkers(app, body) {
  return putSetting(app, 'workers', body);
}

function putSetting(app, field, body) {
  return api(`/api/apps/${encodeURIComponent(app)}/${field}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** No body: the route takes none (or `{}`), and a bodiless POST needs no content type. */
export function postReload(app) {
  return api(`/api/apps/${encodeURIComponent(app)}/reload`, { method: 'POST' });
}
