// The demo page's publishing form: publishes ninjs 2.2 test items through
// the newsroom API (POST /v1/articles), corrects the last one (same uri, next
// version) and kills it (DELETE /v1/articles/<uri>).
//
// The API lives on another port than this page (8081 by default, or the
// ?api= query parameter), so its api_cors_origins must list this page's
// origin (deploy/quickstart.sh does). With no [publisher] configured the API
// serves loopback peers without a key; otherwise put one in ?key=.

const params = new URLSearchParams(location.search);
const apiBase = (() => {
  const fallback = `${location.protocol}//${location.hostname}:8081`;
  try {
    const u = new URL(params.get('api') || fallback);
    return (u.protocol === 'http:' || u.protocol === 'https:') ? u.origin : fallback;
  } catch {
    return fallback;
  }
})();
const apiKey = params.get('key');

const $ = (id) => document.getElementById(id);
const form = $('publish');
const result = $('result');
const correctButton = $('correct-button');
const killButton = $('kill-button');

$('api').textContent = apiBase;
$('origin').textContent = location.origin;

// ?topics= and ?lang= reconfigure the widget (handy to try other patterns).
const alerts = $('alerts');
if (params.get('topics')) alerts.setAttribute('topics', params.get('topics'));
if (params.get('lang')) alerts.setAttribute('lang', params.get('lang'));

let last = null; // {uri, version, topic, urgency, slug}

function show(text, isError = false) {
  result.textContent = text; // the API's answers are data: text only
  result.classList.toggle('error', isError);
}

function randomId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// A minimal valid ninjs 2.2 item (PROTOCOL.md, "Articles").
function ninjs({ uri, version, headline, urgency, slug }) {
  return {
    uri,
    version: String(version),
    versioncreated: new Date().toISOString(),
    type: 'text',
    language: document.documentElement.lang || 'fr',
    headlines: [{ role: 'main', value: headline }],
    urgency,
    renditions: [{ name: 'web', href: `https://www.example.com/newswire-demo/${slug}`, contenttype: 'text/html' }],
  };
}

async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    // The same key on a retry gets the first answer again, not a second alert.
    headers['Idempotency-Key'] = `demo-${randomId()}`;
  }
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const r = await fetch(apiBase + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit',
  });
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const why = data && data.error ? data.error + (data.field ? ` (${data.field})` : '') : r.statusText;
    throw new Error(`${r.status} ${why}`);
  }
  return data;
}

function fields() {
  return {
    headline: $('headline').value.trim(),
    topic: $('topic').value.trim(),
    urgency: Number.parseInt($('urgency').value, 10),
  };
}

async function publish(story) {
  const item = ninjs(story);
  const receipt = await call('POST', `/v1/articles?topics=${encodeURIComponent(story.topic)}`, item);
  show(`${receipt.status} ${receipt.kind || ''} id=${receipt.id || '-'} version=${receipt.version}`);
  return receipt;
}

function busy(on) {
  $('publish-button').disabled = on;
  correctButton.disabled = on || !last;
  killButton.disabled = on || !last;
}

async function run(action) {
  busy(true);
  try {
    await action();
  } catch (err) {
    show(err.message, true);
  } finally {
    busy(false);
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = fields();
  if (!f.headline || !f.topic) { show('Titre et thème sont requis.', true); return; }
  run(async () => {
    const slug = randomId();
    const story = { ...f, slug, uri: `urn:newsml:demo.newswire.example:${slug}`, version: 1 };
    await publish(story);
    last = story;
  });
});

correctButton.addEventListener('click', () => {
  if (!last) return;
  const f = fields();
  run(async () => {
    const story = { ...last, headline: f.headline || last.headline, urgency: f.urgency, version: last.version + 1 };
    await publish(story);
    last = story;
  });
});

killButton.addEventListener('click', () => {
  if (!last) return;
  run(async () => {
    const receipt = await call('DELETE', `/v1/articles/${encodeURIComponent(last.uri)}`);
    show(`${receipt.status} ${receipt.kind || ''} id=${receipt.id || '-'} version=${receipt.version}`);
    last = null;
  });
});
