// One topic: partitions, subscriptions (lag, in-flight, consumers, seek), a test produce, a live tail and the
// delayed messages pending.
import { get, post, api, topicPath, ApiError } from '../api.js';
import { h, table, fmt, bytes, time, errorBox, badge } from '../dom.js';
import { startTail } from '../tail.js';
import { autoRefresh } from '../refresh.js';

export const navName = 'topics';

const TAIL_ROWS = 200;

export async function render(view, [tenant, namespace, name], { onUnauthorized }) {
  const topic = `${tenant}/${namespace}/${name}`;
  const base = topicPath(topic);
  const overview = h('div', { id: 'overview' });
  const partitions = h('div', { id: 'partitions' });
  const subscriptions = h('div', { id: 'subscriptions' });
  const delayed = h('div', { id: 'delayed' });
  view.append(
    h('p', {}, h('a', { href: '#/topics' }, '← Topics')),
    h('h1', { id: 'topic-name' }, topic),
    overview,
    h('h2', {}, 'Partitions'), partitions,
    h('h2', {}, 'Subscriptions'), subscriptions,
    h('div', { class: 'grid2' }, produceForm(base), tailPanel(topic, base)),
    h('h2', {}, 'Delayed messages pending'), delayed);

  const refresh = await autoRefresh(async () => {
    const info = await get(base);
    overview.replaceChildren(stats(info));
    partitions.replaceChildren(partitionTable(info));
    subscriptions.replaceChildren(await subscriptionTable(base, () => refresh.now()));
    delayed.replaceChildren(await delayedTable(base));
  }, (error) => overview.replaceChildren(errorBox(error)), onUnauthorized);
  return () => {
    refresh.stop();
    view.dispatchEvent(new Event('leave'));
  };
}

function stats(info) {
  const messages = info.partitions.reduce((sum, p) => sum + (p.endOffset - p.startOffset), 0);
  const size = info.partitions.reduce((sum, p) => sum + (p.bytes || 0), 0);
  return h('div', { class: 'panel stats' },
    h('div', { class: 'stat' }, h('b', {}, fmt(info.partitions.length)), 'partitions'),
    h('div', { class: 'stat' }, h('b', { id: 'message-count' }, fmt(messages)), 'messages'),
    h('div', { class: 'stat' }, h('b', {}, bytes(size)), 'stored'),
    h('div', { class: 'stat' }, h('b', {}, info.retentionMs ? `${Math.round(info.retentionMs / 3600000)} h` : 'forever'), 'retention'),
    info.compacted ? h('div', { class: 'stat' }, h('b', {}, 'yes'), 'compacted') : null);
}

function partitionTable(info) {
  return table([['Partition'], ['Start', 'num'], ['End', 'num'], ['Size', 'num'], ['Newest']],
    info.partitions.map((p) => h('tr', {},
      h('td', {}, String(p.partition)),
      h('td', { class: 'num' }, fmt(p.startOffset)),
      h('td', { class: 'num' }, fmt(p.endOffset)),
      h('td', { class: 'num' }, bytes(p.bytes)),
      h('td', {}, time(p.newestTimestamp)))),
    { id: 'partitions-table' });
}

async function subscriptionTable(base, changed) {
  const { subscriptions } = await get(`${base}/subscriptions`);
  const infos = await Promise.all(subscriptions.map((name) => get(`${base}/subscriptions/${encodeURIComponent(name)}`)));
  const rows = infos.map((s) => {
    const lag = s.partitions.reduce((sum, p) => sum + p.lag, 0);
    return h('tr', { 'data-subscription': s.name },
      h('td', {}, s.name, s.filter ? h('div', { class: 'muted mono' }, s.filter) : null),
      h('td', {}, s.type),
      h('td', { class: 'num lag' }, fmt(lag)),
      h('td', { class: 'num' }, fmt(s.backlog)),
      h('td', { class: 'num' }, fmt(s.inFlight)),
      h('td', { class: 'num' }, fmt((s.consumers || []).length)),
      h('td', {}, seekForm(base, s.name, changed)));
  });
  return table([['Subscription'], ['Type'], ['Lag', 'num'], ['Backlog', 'num'], ['In flight', 'num'], ['Consumers', 'num'], ['Seek']], rows,
    { empty: 'No subscriptions.', id: 'subscriptions-table' });
}

function seekForm(base, name, changed) {
  const where = h('select', { class: 'seek-position' },
    h('option', { value: 'earliest' }, 'earliest'),
    h('option', { value: 'latest' }, 'latest'),
    h('option', { value: 'time' }, 'time…'));
  const at = h('input', { type: 'datetime-local', class: 'seek-time', hidden: true, step: 1 });
  const result = h('span', { class: 'muted seek-result' });
  where.addEventListener('change', () => { at.hidden = where.value !== 'time'; });
  return h('form', {
    class: 'row seek',
    onsubmit: async (event) => {
      event.preventDefault();
      const position = where.value === 'time' ? { time: new Date(at.value).toISOString() } : where.value;
      try {
        await post(`${base}/subscriptions/${encodeURIComponent(name)}/seek`, { json: { position } });
        result.textContent = 'moved';
        result.className = 'ok seek-result';
        changed();
      } catch (error) {
        result.textContent = error.message;
        result.className = 'bad seek-result';
      }
    },
  }, where, at, h('button', { type: 'submit', class: 'secondary' }, 'Seek'), result);
}

function produceForm(base) {
  const key = h('input', { id: 'produce-key', placeholder: 'optional' });
  const value = h('textarea', { id: 'produce-value', placeholder: '{"hello": "world"}' });
  const headers = h('textarea', { id: 'produce-headers', placeholder: 'name: value (one per line)', rows: 2 });
  const result = h('p', { id: 'produce-result', class: 'muted' });
  return h('form', {
    class: 'panel', id: 'produce',
    onsubmit: async (event) => {
      event.preventDefault();
      const extra = { 'Content-Type': 'text/plain; charset=utf-8' };
      for (const line of headers.value.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) {
          extra['Sluice-Header-' + line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        }
      }
      const query = key.value ? `?key=${encodeURIComponent(key.value)}` : '';
      try {
        const answer = await api('POST', `${base}/messages${query}`, { body: value.value, headers: extra });
        result.textContent = `Produced ${answer.id} (partition ${answer.partition}, offset ${answer.offset})`;
        result.className = 'ok';
      } catch (error) {
        result.textContent = error.message;
        result.className = 'bad';
      }
    },
  },
  h('h2', {}, 'Produce a test message'),
  h('label', {}, 'Key', key),
  h('label', {}, 'Value', value),
  h('label', {}, 'Headers', headers),
  h('p', {}, h('button', { type: 'submit', id: 'produce-send' }, 'Produce')),
  result);
}

function tailPanel(topic, base) {
  const rows = h('tbody', { id: 'tail-rows' });
  const status = h('span', { class: 'muted', id: 'tail-status' }, 'stopped');
  const button = h('button', { type: 'button', id: 'tail-toggle', class: 'secondary' }, 'Start live tail');
  let stop = null;
  const end = () => {
    if (stop) {
      stop();
      stop = null;
    }
    button.textContent = 'Start live tail';
    status.textContent = 'stopped';
  };
  button.addEventListener('click', async () => {
    if (stop) {
      end();
      return;
    }
    try {
      const info = await get(base);
      stop = startTail(topic, info.partitions, (m) => {
        rows.prepend(h('tr', { class: 'tail-row' },
          h('td', { class: 'mono' }, m.id),
          h('td', { class: 'mono' }, m.key ?? ''),
          h('td', { class: 'mono tail-value' }, m.value ?? ''),
          h('td', { class: 'mono' }, Object.entries(m.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n'))));
        while (rows.children.length > TAIL_ROWS) {
          rows.lastElementChild.remove();
        }
      }, (error) => {
        status.replaceChildren(badge(error.message, 'bad'));
      });
      button.textContent = 'Stop live tail';
      status.replaceChildren(badge('following', 'ok'));
    } catch (error) {
      status.replaceChildren(badge(error.message, 'bad'));
    }
  });
  const panel = h('div', { class: 'panel', id: 'tail' },
    h('h2', {}, 'Live tail'),
    h('p', { class: 'row' }, button, status),
    h('div', { class: 'tail' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Key'), h('th', {}, 'Value'), h('th', {}, 'Headers'))), rows)));
  // The page's cleanup ends the streams (a parent element receives 'leave').
  queueMicrotask(() => panel.closest('.page')?.addEventListener('leave', end));
  return panel;
}

async function delayedTable(base) {
  let answer;
  try {
    answer = await get(`${base}/delayed?limit=50`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405) && error.problem?.type === 'urn:sluice:problem:not-found') {
      return h('p', { class: 'muted' }, 'This gateway has no delayed messages API.');
    }
    throw error;
  }
  const rows = (answer.messages || []).map((m) => h('tr', {},
    h('td', { class: 'mono' }, m.id),
    h('td', { class: 'num' }, String(m.partition)),
    h('td', {}, time(m.deliverAt))));
  return h('div', {},
    h('p', { id: 'delayed-count' }, `${fmt(answer.count)} pending`),
    table([['Id'], ['Partition', 'num'], ['Deliver at']], rows, { empty: 'None pending.', id: 'delayed-table' }));
}
