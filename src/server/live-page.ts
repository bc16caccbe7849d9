import { escapeMarkup } from '../modules/clubs/hall.js';

/**
 * The live floor plan: a page with no framework that speaks graphql-transport-ws itself,
 * subscribes to the night's availability versions and, for each newer one, fetches the
 * server-rendered plan and swaps it in. Reconnects after a second when the socket closes.
 */
export function livePage(night: { clubName: string; clubSlug: string; nightId: string; startsAt: Date }): string {
  const hallUrl = `/clubs/${encodeURIComponent(night.clubSlug)}/nights/${encodeURIComponent(night.nightId)}/hall.svg`;
  const config = JSON.stringify({ nightId: night.nightId, hallUrl }).replace(/</g, '\\u003c');
  const title = escapeMarkup(`${night.clubName} — ${night.startsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  body { margin: 0; padding: 1rem 1.5rem; background: #0d0e11; color: #eee; font-family: system-ui, sans-serif; }
  h1 { font-size: 1.2rem; font-weight: 600; margin: 0 0 .25rem; }
  #status { color: #999; font-size: .85rem; margin: 0 0 1rem; }
  #hall svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>${title}</h1>
<p id="status">connecting…</p>
<div id="hall"></div>
<script>
const { nightId, hallUrl } = ${config};
const status = document.getElementById('status');
const hall = document.getElementById('hall');
let shown = -1;
let drawing = Promise.resolve();

function redraw(version) {
  drawing = drawing.then(async () => {
    if (version <= shown) return;
    const response = await fetch(hallUrl, { cache: 'no-store' });
    if (!response.ok) return;
    const drawn = Number((response.headers.get('etag') || '').replace(/\\D/g, ''));
    hall.innerHTML = await response.text();
    shown = drawn;
    status.textContent = 'live · version ' + shown;
  }).catch((error) => { status.textContent = 'could not draw: ' + error; });
}

function connect() {
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql', 'graphql-transport-ws');
  socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init' }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'connection_ack') {
      socket.send(JSON.stringify({ id: 'availability', type: 'subscribe', payload: {
        query: 'subscription Live($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }',
        variables: { nightId },
      } }));
    } else if (message.type === 'next' && message.payload.data) {
      redraw(message.payload.data.availabilityChanged.version);
    } else if (message.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong' }));
    }
  };
  socket.onclose = () => {
    status.textContent = 'reconnecting…';
    setTimeout(connect, 1000);
  };
}
connect();
</script>
</body>
</html>
`;
}

