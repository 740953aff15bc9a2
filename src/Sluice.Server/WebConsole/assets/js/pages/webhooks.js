// Webhooks: status (paused, breaker, counters, backlog, last error), pause and resume.
import { get, post } from '../api.js';
import { h, table, fmt, time, errorBox, badge } from '../dom.js';
import { autoRefresh } from '../refresh.js';

export const navName = 'webhooks';

export async function render(view, _params, { onUnauthorized }) {
  view.append(h('h1', {}, 'Webhooks'));
  const body = h('div', { id: 'webhooks' });
  view.append(body);
  const refresh = await autoRefresh(async () => body.replaceChildren(await webhookTable(() => refresh.now())),
    (error) => body.replaceChildren(errorBox(error)), onUnauthorized);
  return refresh.stop;
}

function breaker(state) {
  return badge(state, state === 'closed' ? 'ok' : state === 'open' ? 'bad' : 'warn');
}

async function webhookTable(changed) {
  const { webhooks } = await get('/v1/webhooks');
  const rows = await Promise.all(webhooks.map(async (w) => {
    const id = encodeURIComponent(w.id);
    let stats = null;
    try {
      stats = await get(`/v1/webhooks/${id}/stats`);
    } catch {
      // deleted meanwhile: shown without stats
    }
    const paused = stats?.paused ?? w.paused;
    const action = h('button', {
      type: 'button', class: 'secondary webhook-toggle',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await post(`/v1/webhooks/${id}/${paused ? 'resume' : 'pause'}`);
        } finally {
          changed();
        }
      },
    }, paused ? 'Resume' : 'Pause');
    return h('tr', { 'data-webhook': w.id },
      h('td', { class: 'mono' }, w.id),
      h('td', {}, w.topic, h('div', { class: 'muted mono' }, w.url)),
      h('td', { class: 'webhook-state' }, paused ? badge('paused', 'warn') : badge('running', 'ok')),
      h('td', {}, stats ? breaker(stats.breaker.state) : '–'),
      h('td', { class: 'num' }, fmt(stats?.delivered)),
      h('td', { class: 'num' }, fmt(stats?.failed)),
      h('td', { class: 'num' }, fmt(stats?.backlog)),
      h('td', { class: 'num' }, fmt(stats?.inFlight)),
      h('td', {}, stats?.lastError ? h('span', { class: 'bad' }, stats.lastError, h('div', { class: 'muted' }, time(stats.lastErrorAt))) : '–'),
      h('td', {}, action));
  }));
  return table([['Id'], ['Topic and URL'], ['State'], ['Breaker'], ['Delivered', 'num'], ['Failed', 'num'], ['Backlog', 'num'], ['In flight', 'num'], ['Last error'], ['']], rows,
    { empty: 'No webhooks.', id: 'webhooks-table' });
}
