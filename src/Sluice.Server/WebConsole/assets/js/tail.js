// A live tail of a topic: one replay stream per partition from its end (GET .../messages?partition=&offset= with
// Accept: text/event-stream), read with fetch so the token travels in the Authorization header, never in a URL.
import { authHeaders, topicPath } from './api.js';

export function startTail(topic, partitions, onMessage, onError) {
  const controller = new AbortController();
  for (const p of partitions) {
    follow(topic, p.partition, p.endOffset, controller.signal, onMessage).catch((error) => {
      if (!controller.signal.aborted) {
        onError(error);
      }
    });
  }
  return () => controller.abort();
}

async function follow(topic, partition, offset, signal, onMessage) {
  const url = `${topicPath(topic)}/messages?partition=${partition}&offset=${offset}`;
  const response = await fetch(url, { headers: authHeaders({ Accept: 'text/event-stream' }), signal, cache: 'no-store' });
  if (!response.ok) {
    const text = await response.text();
    let detail = text;
    try {
      detail = JSON.parse(text).detail || text;
    } catch {
      // not JSON: the text as it is
    }
    throw new Error(`tail of partition ${partition}: HTTP ${response.status} ${detail}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data) {
        onMessage(JSON.parse(data));
      }
    }
  }
}
