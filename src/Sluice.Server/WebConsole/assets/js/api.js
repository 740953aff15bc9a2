// The gateway's HTTP API, same origin, with the bearer token kept in this tab's session storage (entered once; gone
// when the tab closes). Errors carry the problem+json detail the gateway wrote.
const TOKEN_KEY = 'sluice.console.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const t = token();
  if (t) {
    headers.Authorization = `Bearer ${t}`;
  }
  return headers;
}

// One request; JSON in and out. Returns null for 204, throws ApiError otherwise on a non-2xx answer.
export async function api(method, path, { json, body, headers = {}, signal } = {}) {
  const init = { method, headers: authHeaders(headers), signal, cache: 'no-store' };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (response.status === 204) {
    return null;
  }
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, typeof data === 'object' ? data : { detail: data });
  }
  return data;
}

export const get = (path, options) => api('GET', path, options);
export const post = (path, options) => api('POST', path, options);

// Path of a topic: each part escaped, the slashes kept.
export function topicPath(topic) {
  return '/v1/topics/' + topic.split('/').map(encodeURIComponent).join('/');
}
