/**
 * A live admin page: node stats from /health every second, channels and presence from the server API.
 * Static HTML; the API key it needs is typed in by the operator and kept in sessionStorage only. With a
 * key set, the page itself is behind it too (the browser asks for it: HTTP Basic, any user name).
 */
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Herald admin</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; } table { border-collapse: collapse; margin: 1rem 0; }
  td, th { padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: left; }
  .ok { color: #080; } .bad { color: #b00; } input { font: inherit; }
</style>
</head>
<body>
<h1>Herald <span id="status"></span></h1>
<table id="stats"></table>
<p><label>API key <input id="key" type="password" autocomplete="off"></label> (only if HERALD_API_KEY is set)</p>
<h2>Channels</h2>
<table id="channels"><tr><td>…</td></tr></table>
<script>
  const key = document.getElementById('key');
  key.value = sessionStorage.getItem('heraldKey') || '';
  key.onchange = () => sessionStorage.setItem('heraldKey', key.value);
  const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
  const row = (...cells) => { const tr = document.createElement('tr'); tr.append(...cells.map(cell)); return tr; };
  async function api(method, body) {
    const headers = { 'content-type': 'application/json' };
    if (key.value) headers.authorization = 'apikey ' + key.value;
    const res = await fetch('api/' + method, { method: 'POST', headers, body: JSON.stringify(body || {}) });
    return res.json();
  }
  async function refresh() {
    try {
      const health = await (await fetch('health')).json();
      const status = document.getElementById('status');
      status.textContent = health.status; status.className = health.status === 'ok' ? 'ok' : 'bad';
      document.getElementById('stats').replaceChildren(...Object.entries(health).map(([k, v]) => row(k, String(v))));
      const list = await api('channels');
      const table = document.getElementById('channels');
      if (list.error) { table.replaceChildren(row(list.error.message)); return; }
      table.replaceChildren(row('channel', 'offset', 'presence'));
      for (const name of list.channels.slice(0, 200)) {
        const [history, presence] = await Promise.all([api('history', { channel: name, limit: 0 }), api('presence', { channel: name })]);
        table.append(row(name, String(history.offset ?? ''), String(Object.keys(presence.members || {}).length)));
      }
    } catch (err) {
      document.getElementById('status').textContent = 'unreachable';
    }
  }
  refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>`;

export function admin(): Response {
  return new Response(page, {
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
  });
}
