// Replicators: state, lag and counters from their status, start and stop.
import { get, post, ApiError } from '../api.js';
import { h, table, fmt, bytes, time, errorBox, badge } from '../dom.js';
import { autoRefresh } from '../refresh.js';

export const navName = 'replicators';

export async function render(view, _params, { onUnauthorized }) {
  view.append(h('h1', {}, 'Replicators'));
  const body = h('div', { id: 'replicators' });
  view.append(body);
  const refresh = await autoRefresh(async () => body.replaceChildren(await replicatorTable(() => refresh.now())), (error) => {
    if (error instanceof ApiError && error.status === 404 && error.problem?.type === 'urn:sluice:problem:not-found') {
      body.replaceChildren(h('p', { class: 'muted' }, 'This gateway has no replicators API.'));
      return false;
    }
    body.replaceChildren(errorBox(error));
    return true;
  }, onUnauthorized);
  return refresh.stop;
}

function state(value) {
  const kind = { running: 'ok', stopped: 'warn', retrying: 'warn', failed: 'bad' }[value] || '';
  return badge(value, kind);
}

async function replicatorTable(changed) {
  const { replicators } = await get('/v1/replicators');
  const rows = await Promise.all(replicators.map(async (r) => {
    const name = encodeURIComponent(r.name);
    let status = null;
    try {
      status = await get(`/v1/replicators/${name}/status`);
    } catch {
      // deleted meanwhile: shown without status
    }
    const current = status?.state ?? (r.stopped ? 'stopped' : 'running');
    const stoppedNow = current === 'stopped';
    const lag = status ? status.lag : null;
    const source = r.source?.topic || r.source?.namespace || JSON.stringify(r.source);
    const action = h('button', {
      type: 'button', class: 'secondary replicator-toggle',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await post(`/v1/replicators/${name}/${stoppedNow ? 'start' : 'stop'}`);
        } finally {
          changed();
        }
      },
    }, stoppedNow ? 'Start' : 'Stop');
    return h('tr', { 'data-replicator': r.name },
      h('td', {}, r.name),
      h('td', {}, source, h('div', { class: 'muted' }, r.sink?.type || '')),
      h('td', { class: 'replicator-state' }, state(current)),
      h('td', { class: 'num' }, fmt(lag)),
      h('td', { class: 'num' }, fmt(status?.recordsWritten)),
      h('td', { class: 'num' }, bytes(status?.bytesWritten)),
      h('td', {}, status?.lastError ? h('span', { class: 'bad' }, status.lastError, h('div', { class: 'muted' }, time(status.lastErrorAt))) : '–'),
      h('td', {}, action));
  }));
  return table([['Name'], ['Source and sink'], ['State'], ['Lag', 'num'], ['Records', 'num'], ['Bytes', 'num'], ['Last error'], ['']], rows,
    { empty: 'No replicators.', id: 'replicators-table' });
}
