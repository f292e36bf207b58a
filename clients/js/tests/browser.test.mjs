// The demo page and the <newswire-alerts> widget in a real Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded),
// served by a real newswired from clients/js (static_dir), publishing through
// the real API (api_cors_origins = the page's origin).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Daemon, JS_DIR, Redis, freePort, makeItem, sleep } from './helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(JS_DIR, 'test-artifacts');
const skip = existsSync(CHROMIUM) ? false
  : `${CHROMIUM} is not installed (apt-get install chromium): browser tests skipped`;
if (skip) console.log(`# SKIP ${skip}`);

describe('demo page and widget in Chromium', { skip }, () => {
  let redis;
  let d;
  let browser;
  let page;
  const pageErrors = [];

  const widget = (sel) => page.locator(`newswire-alerts ${sel}`); // CSS pierces open shadow roots
  const rows = () => widget('li');
  const rowByText = (text) => widget('li').filter({ hasText: text });
  const live = (politeness) => widget(`[aria-live="${politeness}"]`);

  async function openDemo(query = '') {
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`); });
    await page.goto(`${d.http}/?api=${encodeURIComponent(d.api)}${query}`);
    await widget('[part="status"][data-state="open"]').waitFor({ timeout: 5000 });
  }

  before(async () => {
    const { chromium } = await import('playwright-core');
    redis = await new Redis().start();
    const port = await freePort();
    d = await new Daemon(redis, {
      port,
      args: ['--set', `static_dir=${JS_DIR}`, '--set', `api_cors_origins=http://127.0.0.1:${port}`],
    }).start();
    // launch() runs the browser with a new, empty, temporary profile.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    const rc = await d?.stop();
    await redis?.stop();
    assert.ok(rc === 0 || rc === null || rc === undefined, `newswired exited with ${rc}:\n${d?.log().slice(-3000)}`);
    d?.cleanup();
  });

  test('the demo page loads, with the widget connected and no error', async () => {
    await openDemo();
    assert.equal(await page.title(), 'Newswire — démo');
    assert.equal(await widget('h2').textContent(), 'Alertes');
    assert.equal(await widget('[part="status"]').textContent(), 'En direct');
    assert.equal(await page.locator('#api').textContent(), d.api);
    // Notifications are offered by a button, never asked for on load.
    assert.equal(await widget('button[part="notify-button"]').isVisible(), true);
    assert.equal(await page.evaluate(() => Notification.permission), 'default');
    assert.deepEqual(pageErrors, []);
  });

  test('a flash published with the form appears within 1 s, announced assertively', async () => {
    await page.fill('#headline', 'Séisme fictif : alerte d’essai');
    await page.selectOption('#urgency', '1');
    const t0 = Date.now();
    await page.click('#publish-button');
    await rowByText('Séisme fictif').waitFor({ timeout: 1000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1000, `shown after ${elapsed} ms`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-flash.png'), fullPage: true });
    const row = rowByText('Séisme fictif');
    assert.match(await row.getAttribute('class'), /\bu1\b/);
    assert.equal(await row.locator('.badge').textContent(), 'Flash');
    assert.match(await row.locator('time').textContent(), /^\d{2}:\d{2}$/);
    const href = await row.locator('a.headline').getAttribute('href');
    assert.match(href, /^https:\/\/www\.example\.com\/newswire-demo\/[0-9a-f]+$/);
    assert.match(await page.locator('#result').textContent(), /^published new id=\d+-\d+ version=1$/);
    // Two live regions: the flash goes to the assertive one.
    assert.equal(await live('assertive').count(), 1);
    assert.equal(await live('polite').count(), 1);
    assert.equal(await live('assertive').getAttribute('aria-atomic'), 'true');
    assert.equal(await live('assertive').textContent(), 'Flash : Séisme fictif : alerte d’essai');
    assert.doesNotMatch(await live('polite').textContent(), /Séisme/);
  });

  test('a correction replaces the alert in place', async () => {
    const before0 = await rows().count();
    const uri = await rowByText('Séisme fictif').getAttribute('data-uri');
    await page.fill('#headline', 'Séisme fictif : bilan corrigé');
    await page.click('#correct-button');
    const row = page.locator(`newswire-alerts li[data-uri="${uri}"]`);
    await row.filter({ hasText: 'bilan corrigé' }).waitFor({ timeout: 1000 });
    assert.equal(await rows().count(), before0);
    assert.equal(await row.getAttribute('data-version'), '2');
    assert.equal(await row.locator('.corrected').textContent(), 'Corrigé');
    assert.equal(await rowByText('alerte d’essai').count(), 0);
    assert.equal(await live('polite').textContent(), 'Correction : Séisme fictif : bilan corrigé');
  });

  test('a kill removes the alert', async () => {
    const uri = await rowByText('bilan corrigé').getAttribute('data-uri');
    await page.click('#kill-button');
    await page.locator(`newswire-alerts li[data-uri="${uri}"]`).waitFor({ state: 'detached', timeout: 1000 });
    assert.match(await page.locator('#result').textContent(), /^published kill id=/);
  });

  test('a withhold hides the alert until a later version', async () => {
    const item = makeItem({ headline: 'Retenue puis rétablie', urgency: 4 });
    await d.publish(item, 'monde/x');
    await rowByText('Retenue puis').waitFor({ timeout: 1000 });
    await d.publish({ ...item, version: '2', pubstatus: 'withheld' }, 'monde/x');
    await rowByText('Retenue puis').waitFor({ state: 'detached', timeout: 1000 });
    await d.publish({ ...item, version: '3', headlines: [{ role: 'main', value: 'Retenue puis rétablie (v3)' }] }, 'monde/x');
    await rowByText('(v3)').waitFor({ timeout: 1000 });
    await d.kill(item.uri);
    await rowByText('Retenue puis').waitFor({ state: 'detached', timeout: 1000 });
  });

  test('a routine item is announced politely; text from the wire is never markup', async () => {
    const evil = '<img src=x onerror="window.__pwned=1"><b>gras</b>';
    const now = new Date().toISOString();
    await d.publish(makeItem({ headline: 'Alerte fictive : bulletin d’essai', urgency: 2, versioncreated: now }), 'monde/asie');
    await d.publish(makeItem({ headline: 'Urgent fictif : essai', urgency: 3, versioncreated: now,
      renditions: [{ name: 'web', href: 'https://www.example.com/urgent' }] }), 'monde/asie');
    await d.publish(makeItem({
      headline: evil, urgency: 5, versioncreated: now,
      renditions: [{ name: 'web', href: 'javascript:window.__pwned=2' }],
    }), 'monde/europe');
    const row = rowByText('onerror');
    await row.waitFor({ timeout: 1000 });
    assert.equal(await row.locator('.headline').textContent(), evil);
    assert.equal(await row.locator('img, b, a').count(), 0, 'no element from the data, no javascript: link');
    assert.match(await row.getAttribute('class'), /\broutine\b/);
    assert.equal(await live('polite').textContent(), evil);
    assert.doesNotMatch(await live('assertive').textContent(), /onerror/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('first paint from the recent items: newest first, capped at max, withheld left out', async () => {
    const ids = [];
    for (let i = 1; i <= 12; i++) ids.push((await d.publish(makeItem({ headline: `Récent ${i}`, urgency: 4 }), 'paint/a')).id);
    const held = makeItem({ headline: 'Retenu', urgency: 4 });
    await d.publish(held, 'paint/b');
    await d.publish({ ...held, version: '2', pubstatus: 'withheld' }, 'paint/b');
    await page.close();
    await openDemo('&topics=paint/a,paint/%2B&lang=en');
    assert.equal(await widget('h2').textContent(), 'Alerts');
    const texts = await widget('li .headline').allTextContents();
    assert.deepEqual(texts, Array.from({ length: 10 }, (_, i) => `Récent ${12 - i}`));
    // Live after the first paint, without a repeat of what was painted.
    await d.publish(makeItem({ headline: 'Direct', urgency: 3 }), 'paint/a');
    await rowByText('Direct').waitFor({ timeout: 1000 });
    const after1 = await widget('li .headline').allTextContents();
    assert.deepEqual(after1.slice(0, 3), ['Direct', 'Récent 12', 'Récent 11']);
    assert.equal(after1.length, 10);
    assert.equal(await rowByText('Direct').locator('.badge').textContent(), 'Urgent');
  });

  // The same embedding with widget.js served by a static host that sends
  // CORS headers: the widget works from a third origin, and its default
  // stream URL is its script's host, not the page's.
  test('embedded cross-origin (scripts from a CORS-enabled host), url defaults to the script host', async () => {
    const scripts = http.createServer((req, res) => {
      const name = new URL(req.url, 'http://x').pathname.slice(1);
      if (name !== 'widget.js' && name !== 'newswire.js') { res.statusCode = 404; res.end(); return; }
      res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.end(readFileSync(path.join(JS_DIR, name)));
    });
    const partner = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html lang="en"><title>Partner</title>
        <script type="module" src="http://127.0.0.1:${scripts.address().port}/widget.js"></script>
        <newswire-alerts id="a" topics="partner2/#" max="5" url="${d.ws}"></newswire-alerts>
        <newswire-alerts id="b" topics="partner2/#" max="5"></newswire-alerts>`);
    });
    await new Promise((resolve) => scripts.listen(0, '127.0.0.1', resolve));
    await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
    const p = await browser.newPage();
    try {
      await p.goto(`http://127.0.0.1:${partner.address().port}/`);
      await p.locator('#a [part="status"][data-state="open"]').waitFor({ timeout: 3000 });
      await d.publish(makeItem({ headline: 'Chez le partenaire', urgency: 3 }), 'partner2/x');
      await p.locator('#a li').filter({ hasText: 'Chez le partenaire' }).waitFor({ timeout: 1000 });
      assert.equal(await p.evaluate(() => document.getElementById('b').client.urls[0]),
        `ws://127.0.0.1:${scripts.address().port}/v1/stream`);
    } finally {
      await p.close();
      partner.close();
      scripts.close();
    }
  });

  // The embedding the widget is made for: a partner page, on another origin,
  // loads widget.js from the gateway. Browsers fetch module scripts in CORS
  // mode: the gateway's static files carry Access-Control-Allow-Origin.
  test('a page on another origin embeds the widget from the gateway', async () => {
    const partner = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html lang="en"><title>Partner</title>
        <script type="module" src="${d.http}/widget.js"></script>
        <newswire-alerts topics="partner/#" max="5"></newswire-alerts>`);
    });
    await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
    const p = await browser.newPage();
    try {
      await p.goto(`http://127.0.0.1:${partner.address().port}/`);
      await p.locator('newswire-alerts [part="status"][data-state="open"]').waitFor({ timeout: 3000 });
      await d.publish(makeItem({ headline: 'Chez le partenaire', urgency: 3 }), 'partner/x');
      await p.locator('newswire-alerts li').filter({ hasText: 'Chez le partenaire' }).waitFor({ timeout: 1000 });
    } finally {
      await p.close();
      partner.close();
    }
  });

  test('nothing is rendered while the page is hidden; it catches up when visible', async () => {
    const setVisibility = (state) => page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { value: s, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
    await setVisibility('hidden');
    await d.publish(makeItem({ headline: 'Pendant l’absence 1', urgency: 2 }), 'paint/a');
    await d.publish(makeItem({ headline: 'Pendant l’absence 2', urgency: 6 }), 'paint/a');
    await sleep(400);
    assert.equal(await rowByText('Pendant').count(), 0);
    await setVisibility('visible');
    await rowByText('absence 2').waitFor({ timeout: 1000 });
    assert.equal(await rowByText('Pendant').count(), 2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'widget-en.png'), fullPage: true });
    // One summary, assertive since a bulletin was among them.
    assert.equal(await live('assertive').textContent(), '2 new alerts');
    assert.deepEqual(pageErrors, []);
  });
});
