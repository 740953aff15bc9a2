// Topics: partitions, messages, bytes and the produce rate, measured from end offsets between refreshes.
import { get, topicPath } from '../api.js';
import { h, table, fmt, bytes, errorBox } from '../dom.js';
import { autoRefresh } from '../refresh.js';

export const navName = 'topics';

const previous = new Map(); // topic -> { end, at }: rates between two refreshes

export async function render(view, _params, { onUnauthorized }) {
  view.append(h('h1', {}, 'Topics'));
  const body = h('div', { id: 'topics' });
  view.append(body);

  const refresh = await autoRefresh(async () => body.replaceChildren(await topicsTable()),
    (error) => body.replaceChildren(errorBox(error)), onUnauthorized);
  return refresh.stop;
}

async function topicsTable() {
  const { topics } = await get('/v1/topics');
  const details = await Promise.all(topics.map(async (name) => {
    try {
      return await get(topicPath(name));
    } catch (error) {
      return { name, error };
    }
  }));
  const now = performance.now();
  const rows = details.map((t) => {
    const link = h('a', { href: `#/topic/${t.name.split('/').map(encodeURIComponent).join('/')}`, class: 'topic-link' }, t.name);
    if (t.error) {
      return h('tr', {}, h('td', {}, link), h('td', { colspan: 4, class: 'bad' }, t.error.message));
    }
    const end = t.partitions.reduce((sum, p) => sum + p.endOffset, 0);
    const messages = t.partitions.reduce((sum, p) => sum + (p.endOffset - p.startOffset), 0);
    const size = t.partitions.reduce((sum, p) => sum + (p.bytes || 0), 0);
    const last = previous.get(t.name);
    const rate = last && now > last.at ? ((end - last.end) * 1000) / (now - last.at) : null;
    previous.set(t.name, { end, at: now });
    return h('tr', { 'data-topic': t.name },
      h('td', {}, link),
      h('td', { class: 'num' }, fmt(t.partitions.length)),
      h('td', { class: 'num' }, fmt(messages)),
      h('td', { class: 'num' }, bytes(size)),
      h('td', { class: 'num' }, rate === null ? '…' : `${rate.toFixed(1)} msg/s`));
  });
  return table([['Topic'], ['Partitions', 'num'], ['Messages', 'num'], ['Size', 'num'], ['Produce rate', 'num']], rows,
    { empty: 'No topics yet: produce a message to create one.', id: 'topics-table' });
}
