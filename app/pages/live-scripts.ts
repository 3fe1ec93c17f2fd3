/**
 * The pages' small inline scripts: progressive enhancement only. Without JavaScript the pages reload themselves
 * (a `<noscript>` meta refresh) and every form posts as usual; with it, a Server-Sent Events stream replaces the
 * reloads. Markup that arrives on a stream was rendered and escaped by the hub (safe-html.ts); log text is appended
 * as text, never as markup.
 *
 * @example
 * html`<div id="live" data-stream="${streamPath}">…</div>${DEPLOYMENT_LIVE_SCRIPT}`;
 */
import { trustedHtml } from './safe-html.js';

/** `#live` follows `data-stream`: each `update` replaces its content; a change of the buttons' state reloads the page. */
export const DEPLOYMENT_LIVE_SCRIPT = trustedHtml(`<script>
(() => {
  const live = document.getElementById('live');
  if (!live || !live.dataset.stream || !window.EventSource) return;
  const status = document.getElementById('live-status');
  const say = (text) => { if (status) status.textContent = text; };
  const events = new EventSource(live.dataset.stream);
  // A button was pressed or the person is leaving for another page: a reload here must not cancel that navigation.
  let leaving = false;
  const leave = () => { leaving = true; events.close(); };
  document.addEventListener('submit', (ev) => { if (!ev.defaultPrevented) leave(); });
  window.addEventListener('beforeunload', leave);
  events.addEventListener('update', (ev) => {
    if (leaving) return;
    const d = JSON.parse(ev.data);
    if (d.actions !== live.dataset.actions) { events.close(); say('Updating the page…'); location.replace(live.dataset.page); return; }
    live.innerHTML = d.html;
  });
  events.addEventListener('end', () => { events.close(); say(''); });
  events.onopen = () => say('Live: this page updates as the rollout moves.');
  events.onerror = () => say('Connection lost: reconnecting…');
})();
</script>`);

/** A server's page: `#log` grows with each `log` event (followed when the box is ticked), `#server-facts` is replaced. */
export const SERVER_LIVE_SCRIPT = trustedHtml(`<script>
(() => {
  const log = document.getElementById('log');
  const facts = document.getElementById('server-facts');
  if (!log || !log.dataset.stream || !window.EventSource) return;
  const follow = document.getElementById('follow');
  document.getElementById('follow-control').hidden = false;
  const status = document.getElementById('live-status');
  const say = (text) => { if (status) status.textContent = text; };
  const events = new EventSource(log.dataset.stream);
  let empty = log.dataset.empty === 'true';
  events.addEventListener('log', (ev) => {
    const d = JSON.parse(ev.data);
    if (empty) { log.textContent = ''; empty = false; }
    log.append(d.text);
    if (follow.checked) log.scrollTop = log.scrollHeight;
  });
  events.addEventListener('server', (ev) => { facts.innerHTML = JSON.parse(ev.data).html; });
  events.addEventListener('end', () => { events.close(); say('The job has ended: this is its whole log.'); });
  events.onopen = () => say('Live: new log lines appear as the agent sends them.');
  events.onerror = () => say('Connection lost: reconnecting…');
  if (follow.checked) log.scrollTop = log.scrollHeight;
})();
</script>`);
