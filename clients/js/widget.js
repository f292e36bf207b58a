// <newswire-alerts>: a custom element that shows a Newswire wire's latest
// alerts, live.
//
//   <script type="module" src="https://wire.example/widget.js"></script>
//   <newswire-alerts topics="monde/#" max="10" lang="fr"></newswire-alerts>
//
// Attributes:
//   topics        comma-separated topic patterns (required)
//   max           how many alerts to show (default 10, 1-100)
//   lang          UI strings and time format: fr, en (default: the page's
//                 <html lang>, else en)
//   url           the WebSocket URL (default: /v1/stream on the host that
//                 served this script, ws:// or wss:// to match)
//   token         a subscriber token, for topics that are not public
//   min-urgency   1-9: only alerts at least this urgent (1 = flash)
//   notifications when present, a button in the widget offers browser
//                 notifications (permission is asked only on that click);
//                 they are shown for new alerts while the page is hidden
//
// Behaviour:
//   - First paint from GET /v1/topics/<pattern>/recent (one request per
//     pattern, merged, newest first, at most `max`), then the live stream
//     resumes from the newest item of that answer, so nothing published in
//     between is missed.
//   - A correction (kind "update", same uri) replaces its alert in place; a
//     kill removes it; a withhold hides it until a later version comes.
//   - Security: every text from the wire goes into the DOM with textContent;
//     no item field is ever parsed as HTML (bodies are not shown at all), and
//     links are only followed when they are http(s) URLs.
//   - Accessibility: announcements go to two visually hidden live regions,
//     one aria-live="assertive" (flashes and bulletins, urgency 1-2, worth
//     interrupting the user for) and one aria-live="polite" (everything
//     else). Two fixed regions rather than one whose politeness changes:
//     screen readers read a region's politeness when it is first seen, and
//     switching it later is not announced reliably. The list itself is not a
//     live region, so corrections and removals do not talk over the user.
//   - While the page is hidden (document.visibilityState) the widget keeps
//     its connection and its data but neither renders nor announces; when the
//     page is visible again it renders once and announces what came meanwhile
//     (one summary line).

import { NewswireClient, compareIds } from './newswire.js';

const STRINGS = {
  fr: {
    title: 'Alertes',
    empty: 'Aucune alerte pour le moment.',
    urgency: { 1: 'Flash', 2: 'Alerte', 3: 'Urgent' },
    corrected: 'Corrigé',
    state: { idle: '', connecting: 'Connexion…', open: 'En direct',
             reconnecting: 'Reconnexion…', closed: 'Hors ligne' },
    enableNotifications: 'Activer les notifications',
    notificationsOn: 'Notifications activées',
    notificationsDenied: 'Notifications refusées par le navigateur',
    correction: 'Correction',
    missed: (n) => `${n} nouvelles alertes`,
    untitled: '(sans titre)',
    sep: ' : ',
  },
  en: {
    title: 'Alerts',
    empty: 'No alerts yet.',
    urgency: { 1: 'Flash', 2: 'Bulletin', 3: 'Urgent' },
    corrected: 'Corrected',
    state: { idle: '', connecting: 'Connecting…', open: 'Live',
             reconnecting: 'Reconnecting…', closed: 'Offline' },
    enableNotifications: 'Turn on notifications',
    notificationsOn: 'Notifications on',
    notificationsDenied: 'Notifications blocked by the browser',
    correction: 'Correction',
    missed: (n) => `${n} new alerts`,
    untitled: '(untitled)',
    sep: ': ',
  },
};

const CSS = `
:host { display: block; font: 14px/1.35 system-ui, sans-serif; color: var(--newswire-fg, #1b1b1b);
        background: var(--newswire-bg, #fff); border: 1px solid var(--newswire-border, #d0d0d0);
        border-radius: 6px; max-width: 36em; }
:host([hidden]) { display: none; }
header { display: flex; align-items: center; gap: .5em; padding: .5em .75em;
         border-bottom: 1px solid var(--newswire-border, #d0d0d0); }
h2 { font-size: 1em; margin: 0; flex: 1; text-transform: uppercase; letter-spacing: .04em; }
.status, .note { font-size: .85em; color: #555; }
.status[data-state="open"]::before { content: "● "; color: #0a7d2c; }
.status[data-state="reconnecting"]::before, .status[data-state="closed"]::before { content: "● "; color: #b00; }
button { font: inherit; font-size: .85em; cursor: pointer; }
ol { list-style: none; margin: 0; padding: 0; }
li { display: grid; grid-template-columns: auto 1fr auto; gap: .15em .6em; align-items: baseline;
     padding: .45em .75em; border-bottom: 1px solid #eee; border-left: 4px solid transparent; }
li:last-child { border-bottom: 0; }
.badge { font-size: .75em; font-weight: 700; text-transform: uppercase; padding: 0 .35em; border-radius: 3px; }
.headline { grid-column: 2; color: inherit; }
a.headline { text-decoration: none; }
a.headline:hover, a.headline:focus { text-decoration: underline; }
time { grid-column: 3; font-size: .85em; color: #555; white-space: nowrap; font-variant-numeric: tabular-nums; }
.corrected { grid-column: 2; font-size: .8em; color: #555; font-style: italic; }
li.u1 { border-left-color: #c00; background: #fff0f0; }
li.u1 .headline { font-weight: 700; }
li.u1 .badge { background: #c00; color: #fff; }
li.u2 { border-left-color: #d9480f; }
li.u2 .headline { font-weight: 600; }
li.u2 .badge { background: #d9480f; color: #fff; }
li.u3 { border-left-color: #e8a200; }
li.u3 .badge { background: #ffe08a; color: #3d2c00; }
.empty { margin: 0; padding: .75em; color: #555; }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
      clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;

// Constructed style sheets are not inline styles, so pages with a strict
// Content-Security-Policy (no 'unsafe-inline' for styles) still style the
// widget; a <style> element is the fallback for older browsers.
let sharedSheet = null;
function styleShadow(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function') {
    try {
      if (!sharedSheet) {
        sharedSheet = new CSSStyleSheet();
        sharedSheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sharedSheet];
      return;
    } catch { /* fall through */ }
  }
  const style = document.createElement('style');
  style.textContent = CSS;
  root.append(style);
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// "1".."999999999" compare as numbers (PROTOCOL.md: higher = newer).
const versionOf = (item) => Number.parseInt(item && item.version, 10) || 0;

function headlineOf(item) {
  const list = Array.isArray(item.headlines) ? item.headlines : [];
  const main = list.find((h) => h && h.role === 'main') || list[0];
  return main && typeof main.value === 'string' ? main.value : '';
}

// The web rendition's href, only when it is an http(s) URL: a javascript: or
// data: URL from the wire must never become a clickable link.
function webLink(item) {
  const list = Array.isArray(item.renditions) ? item.renditions : [];
  const r = list.find((x) => x && x.name === 'web' && typeof x.href === 'string')
    || list.find((x) => x && typeof x.href === 'string' && /html/.test(String(x.contenttype)));
  if (!r) return null;
  try {
    const u = new URL(r.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function pickLang(tag) {
  const base = String(tag || '').toLowerCase().split('-')[0];
  return STRINGS[base] ? base : 'en';
}

// Where this script came from: the default server of the widget.
const SCRIPT_URL = import.meta.url;

function defaultStreamUrl() {
  let base;
  try {
    base = new URL(SCRIPT_URL);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') base = null;
  } catch {
    base = null;
  }
  const u = new URL('/v1/stream', base || globalThis.location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

// The recent-items URL of a pattern on the same host as the stream. Each
// segment is percent-encoded on its own: '#' must travel as %23, '+' as %2B,
// and the slashes must stay slashes.
function recentUrl(streamUrl, pattern, limit, token) {
  const u = new URL(streamUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = `/v1/topics/${pattern.split('/').map(encodeURIComponent).join('/')}/recent`;
  u.search = '';
  u.searchParams.set('limit', String(limit));
  if (token) u.searchParams.set('token', token);
  u.hash = '';
  return u.href;
}

export class NewswireAlerts extends HTMLElement {
  static get observedAttributes() {
    return ['topics', 'max', 'lang', 'url', 'token', 'min-urgency', 'notifications'];
  }

  constructor() {
    super();
    this.client = null;
    this._stories = new Map(); // uri -> {uri, sortId, msg, corrected, withheld}
    this._killed = new Map(); // uri -> version of its kill: older versions stay dead
    this._rows = new Map(); // uri -> {li, msg}: reused so an update stays in place
    this._dirty = false;
    this._missed = []; // items that came while the page was hidden
    this._generation = 0; // bumps on restart: answers of an older start are ignored
    this._onVisibility = () => this._visibilityChanged();
    this._built = false;
  }

  // --- configuration --------------------------------------------------------

  get topics() {
    return String(this.getAttribute('topics') || '').split(',').map((t) => t.trim()).filter(Boolean);
  }

  get max() {
    const n = Number.parseInt(this.getAttribute('max'), 10);
    return Number.isFinite(n) ? Math.min(100, Math.max(1, n)) : 10;
  }

  get lang() {
    return pickLang(this.getAttribute('lang') || document.documentElement.lang);
  }

  get strings() {
    return STRINGS[this.lang];
  }

  get streamUrl() {
    return this.getAttribute('url') || defaultStreamUrl();
  }

  get minUrgency() {
    const n = Number.parseInt(this.getAttribute('min-urgency'), 10);
    return n >= 1 && n <= 9 ? n : undefined;
  }

  // --- lifecycle ------------------------------------------------------------

  connectedCallback() {
    this._build();
    document.addEventListener('visibilitychange', this._onVisibility);
    this._start();
  }

  disconnectedCallback() {
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._stop();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this._built || oldValue === newValue) return;
    if (name === 'lang' || name === 'max') {
      this._applyStrings();
      this._rows.clear(); // times and labels are per language
      this._render();
    } else if (name === 'notifications') {
      this._updateNotifyButton();
    } else if (this.isConnected) {
      // Another server, other topics or another token: start over, once for
      // several attributes changed in the same task.
      clearTimeout(this._restartTimer);
      this._restartTimer = setTimeout(() => { this._stop(); this._start(); }, 0);
    }
  }

  _build() {
    if (this._built) return;
    this._built = true;
    const root = this.attachShadow({ mode: 'open' });
    styleShadow(root);
    this._title = el('h2', { part: 'title' });
    this._status = el('span', { class: 'status', part: 'status', 'data-state': 'idle' });
    this._notifyButton = el('button', { type: 'button', part: 'notify-button', hidden: '' });
    this._notifyButton.addEventListener('click', () => this._askNotifications());
    this._notifyNote = el('span', { class: 'note', part: 'notify-status', hidden: '' });
    const header = el('header', { part: 'header' });
    header.append(this._title, this._status, this._notifyButton, this._notifyNote);
    this._list = el('ol', { part: 'list' });
    this._empty = el('p', { class: 'empty', part: 'empty' });
    this._polite = el('div', { class: 'sr', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-region': 'polite' });
    this._assertive = el('div', { class: 'sr', 'aria-live': 'assertive', 'aria-atomic': 'true', 'data-region': 'assertive' });
    const section = el('section', { part: 'container' });
    section.append(header, this._list, this._empty, this._polite, this._assertive);
    root.append(section);
    this._applyStrings();
    this._render();
  }

  _applyStrings() {
    const s = this.strings;
    this._title.textContent = s.title;
    this._empty.textContent = s.empty;
    this._status.textContent = s.state[this._status.dataset.state] || '';
    this._updateNotifyButton();
  }

  async _start() {
    const generation = ++this._generation;
    const topics = this.topics;
    this._stories.clear();
    this._killed.clear();
    this._rows.clear();
    this._render();
    if (topics.length === 0) return;
    const url = this.streamUrl;
    const token = this.getAttribute('token') || undefined;
    this._setState('connecting');

    // First paint from the recent items, then the stream from the newest of
    // them: the resume covers whatever was published in between.
    // A pattern whose answer fails (network, 403) just paints nothing: the
    // stream still covers it from `since` on.
    const answers = await Promise.allSettled(topics.map(async (t) => {
      const r = await fetch(recentUrl(url, t, this.max, token), { credentials: 'omit' });
      if (!r.ok) throw new Error(`recent items of ${t}: HTTP ${r.status}`);
      const body = await r.json();
      return Array.isArray(body.items) ? body.items : [];
    }));
    if (generation !== this._generation) return;
    for (const a of answers) if (a.status === 'rejected') console.warn('newswire-alerts:', a.reason.message);
    const msgs = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []))
      .filter((m) => m && typeof m.id === 'string')
      .sort((a, b) => compareIds(a.id, b.id));
    const minUrgency = this.minUrgency || 9; // the recent items are not filtered by the server
    let since = null;
    for (const msg of msgs) {
      since = msg.id;
      if (msg.urgency <= minUrgency) this._apply(msg, false);
    }
    this._render();

    const client = new NewswireClient({ url, topics, token, minUrgency: this.minUrgency, since });
    this.client = client;
    client.on('state', ({ state }) => this._setState(state));
    client.on('item', (msg) => this._onItem(msg));
    client.on('reset', () => {
      // The server could not resume: it now sends its recent items, which
      // replace everything shown.
      this._stories.clear();
      this._killed.clear();
      this._render();
    });
    client.on('error', (e) => {
      if (e.fatal) console.warn('newswire-alerts:', e.code, e.message);
    });
    client.connect();
  }

  _stop() {
    this._generation++;
    clearTimeout(this._restartTimer);
    if (this.client) this.client.close();
    this.client = null;
  }

  _setState(state) {
    this._status.dataset.state = state;
    this._status.textContent = this.strings.state[state] || '';
  }

  // --- the stories ----------------------------------------------------------

  // Applies one item message to the stories; returns what changed ('new',
  // 'update', 'removed', or null when it was stale or not ours to show).
  _apply(msg, live) {
    const item = msg.item;
    if (!item || typeof item.uri !== 'string') return null;
    const uri = item.uri;
    const version = versionOf(item);
    const known = this._stories.get(uri);
    if (msg.kind === 'kill') {
      this._killed.set(uri, Math.max(version, this._killed.get(uri) || 0));
      this._stories.delete(uri);
      return known ? 'removed' : null;
    }
    // A flash may overtake older versions of its own story: never go back.
    if (version <= (this._killed.get(uri) || 0)) return null;
    if (known && version < versionOf(known.msg.item)) return null;
    if (msg.kind === 'withhold') {
      if (!known) return null;
      known.msg = msg;
      known.withheld = true;
      return 'removed';
    }
    if (known) {
      known.msg = msg;
      known.withheld = false;
      known.corrected = known.corrected || msg.kind === 'update';
      return 'update';
    }
    this._stories.set(uri, { uri, sortId: msg.id, msg, corrected: live ? false : msg.kind === 'update', withheld: false });
    this._trim();
    return 'new';
  }

  // Keeps a few more stories than shown, so that a kill uncovers the next
  // one instead of leaving a hole.
  _trim() {
    const keep = this.max * 3;
    if (this._stories.size <= keep) return;
    const order = [...this._stories.values()].sort((a, b) => compareIds(b.sortId, a.sortId));
    for (const s of order.slice(keep)) this._stories.delete(s.uri);
  }

  _onItem(msg) {
    const change = this._apply(msg, true);
    if (!change) return;
    this._dirty = true;
    const hidden = document.visibilityState === 'hidden';
    if (change === 'new' || change === 'update') {
      if (hidden) {
        if (change === 'new') {
          this._missed.push(msg);
          this._notify(msg);
        }
      } else {
        this._announce(msg, change === 'update');
      }
    }
    if (!hidden) this._render();
  }

  _visibilityChanged() {
    if (document.visibilityState === 'hidden') return;
    if (this._dirty) this._render();
    const missed = this._missed.filter((m) => this._stories.has(m.item.uri));
    this._missed = [];
    if (missed.length === 1) this._announce(missed[0], false);
    else if (missed.length > 1) {
      const urgent = missed.some((m) => m.urgency <= 2);
      this._say(this.strings.missed(missed.length), urgent);
    }
  }

  // --- output ---------------------------------------------------------------

  _announce(msg, correction) {
    const s = this.strings;
    const label = correction ? s.correction : s.urgency[msg.urgency];
    const text = headlineOf(msg.item) || s.untitled;
    this._say(label ? `${label}${s.sep}${text}` : text, !correction && msg.urgency <= 2);
  }

  _say(text, assertive) {
    const region = assertive ? this._assertive : this._polite;
    // A new child each time, so that the same words said twice are said twice.
    region.replaceChildren(el('p', {}, text));
  }

  _render() {
    if (!this._built) return;
    if (document.visibilityState === 'hidden') { this._dirty = true; return; }
    this._dirty = false;
    const shown = [...this._stories.values()]
      .filter((s) => !s.withheld)
      .sort((a, b) => compareIds(b.sortId, a.sortId))
      .slice(0, this.max);
    const rows = shown.map((story) => {
      const cached = this._rows.get(story.uri);
      if (cached && cached.msg === story.msg && cached.corrected === story.corrected) return cached.li;
      const li = this._row(story);
      this._rows.set(story.uri, { li, msg: story.msg, corrected: story.corrected });
      return li;
    });
    for (const uri of this._rows.keys()) {
      if (!shown.some((s) => s.uri === uri)) this._rows.delete(uri);
    }
    this._list.replaceChildren(...rows);
    this._empty.hidden = rows.length > 0;
  }

  _row(story) {
    const s = this.strings;
    const { msg } = story;
    const item = msg.item;
    const urgency = Number.isInteger(msg.urgency) ? msg.urgency : 5;
    const level = urgency <= 3 ? `u${urgency}` : 'routine';
    const li = el('li', { class: level, part: `alert alert-${level}`, 'data-uri': story.uri,
                          'data-version': String(item.version || '') });
    const label = s.urgency[urgency];
    li.append(label ? el('span', { class: 'badge', part: 'badge' }, label) : el('span'));
    const href = webLink(item);
    const headline = headlineOf(item) || s.untitled;
    li.append(href
      ? el('a', { class: 'headline', part: 'headline', href, target: '_blank', rel: 'noopener noreferrer' }, headline)
      : el('span', { class: 'headline', part: 'headline' }, headline));
    const when = item.versioncreated || item.firstcreated;
    const time = el('time', { part: 'time' }, this._formatTime(when));
    if (when) time.setAttribute('datetime', String(when));
    li.append(time);
    if (story.corrected) li.append(el('span', { class: 'corrected', part: 'corrected' }, s.corrected));
    return li;
  }

  _formatTime(value) {
    const d = new Date(value);
    if (!value || Number.isNaN(d.getTime())) return '';
    const sameDay = d.toDateString() === new Date().toDateString();
    const opts = sameDay ? { hour: '2-digit', minute: '2-digit' }
      : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
    return new Intl.DateTimeFormat(this.lang, opts).format(d);
  }

  // --- notifications --------------------------------------------------------

  _notificationsWanted() {
    return this.hasAttribute('notifications') && typeof globalThis.Notification === 'function';
  }

  _updateNotifyButton() {
    if (!this._built) return;
    const s = this.strings;
    const wanted = this._notificationsWanted();
    const permission = wanted ? Notification.permission : 'default';
    this._notifyButton.textContent = s.enableNotifications;
    this._notifyButton.hidden = !wanted || permission !== 'default';
    this._notifyNote.hidden = !wanted || permission === 'default';
    this._notifyNote.textContent = permission === 'granted' ? s.notificationsOn : s.notificationsDenied;
  }

  // Only ever called from a click on the widget's own button: browsers (and
  // users) rightly refuse permission prompts that nobody asked for.
  async _askNotifications() {
    if (!this._notificationsWanted()) return;
    try {
      await Notification.requestPermission();
    } finally {
      this._updateNotifyButton();
    }
  }

  _notify(msg) {
    if (!this._notificationsWanted() || Notification.permission !== 'granted') return;
    const s = this.strings;
    try {
      // Notification text is plain text: nothing is interpreted as markup.
      const n = new Notification(s.urgency[msg.urgency] || s.title, {
        body: headlineOf(msg.item) || s.untitled, tag: msg.item.uri, lang: this.lang,
      });
      const href = webLink(msg.item);
      n.onclick = () => {
        globalThis.focus();
        if (href) globalThis.open(href, '_blank', 'noopener');
      };
    } catch { /* some browsers allow notifications only from a service worker */ }
  }
}

if (!customElements.get('newswire-alerts')) customElements.define('newswire-alerts', NewswireAlerts);
