// Keeps the server-rendered embed widget (/embed/widget?token=…) live without the app's wasm:
// on every event of its stream (and each time the stream opens again) it asks for the counts
// and writes them into the page. A refused token replaces the widget with the server's message.
(() => {
  'use strict';
  const main = document.querySelector('main.embed');
  const token = new URLSearchParams(location.search).get('token') || '';
  const live = () => document.body.setAttribute('data-hydrated', 'true');
  if (!main || !main.querySelector('.widget-count')) {
    live(); // the page already says what is wrong
    return;
  }
  const labels = { critical: 'Critical', warning: 'Warning', info: 'Info' };
  let source = null;
  let busy = false;
  let again = false;

  const refuse = (message) => {
    if (source) source.close();
    const p = document.createElement('p');
    p.className = 'form-error';
    p.setAttribute('role', 'alert');
    p.textContent = message;
    main.replaceChildren(p);
  };

  const render = (counts) => {
    main.querySelector('.widget-count').textContent = String(counts.total);
    const overdue = main.querySelector('.widget-overdue');
    if (overdue) {
      overdue.textContent = `Overdue: ${counts.overdue || 0}`;
      overdue.setAttribute('data-overdue', String(counts.overdue || 0));
    }
    for (const [severity, label] of Object.entries(labels)) {
      const n = main.querySelector(`li[data-severity="${severity}"] .widget-n`);
      if (n) n.textContent = ` ${label}: ${counts[severity]}`;
    }
  };

  // One recount at a time; events during one ask for one more after it.
  const recount = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const res = await fetch('/api/embed_counts', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
        // A stalled request must not hold the widget: after 10 s it counts as offline.
        signal: AbortSignal.timeout(10000),
      });
      const body = await res.json();
      if (res.ok) render(body);
      else refuse(body.message || 'The widget could not be loaded.');
    } catch (_) {
      // Offline or timed out: the stream reconnects by itself, and its next open recounts.
    } finally {
      busy = false;
      if (again) {
        again = false;
        recount();
      }
    }
  };

  source = new EventSource(`/embed/live?token=${encodeURIComponent(token)}`);
  source.addEventListener('open', recount);
  source.addEventListener('resync', recount);
  source.addEventListener('message', (e) => {
    let change = {};
    try {
      change = JSON.parse(e.data);
    } catch (_) {}
    // Revoked: nothing more will come; the recount shows the server's words.
    if (change.type === 'token_revoked') source.close();
    recount();
  });
  live();
})();
