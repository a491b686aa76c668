// What the browser tests share (issue 18): Debian's chromium driven by playwright-core,
// pages that record console errors, an axe-core check and a screenshot of each page.
//
// The Rust tests pass: BROWSER_TOOLS (the folder scripts/setup installs the packages
// into), FIXTURE (a JSON file of what the test set up) and SCREENSHOTS.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.BROWSER_TOOLS, 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const fixture = JSON.parse(readFileSync(process.env.FIXTURE, 'utf8'));
export const base = fixture.base_url;
export const shots = process.env.SCREENSHOTS;

let browser;
before(async () => {
  // As root, Chromium runs only without its sandbox; the pages are our own.
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

/** A new page (a phone's width when asked) that records console errors: a script or a
 * style our Content-Security-Policy blocks shows there. */
export async function newPage({ width = 1280, javaScript = true } = {}) {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    locale: 'zh-CN',
    javaScriptEnabled: javaScript,
  });
  const page = await context.newPage();
  page.errors = [];
  page.status = 200;
  page.on('response', (r) => {
    if (r.frame() === page.mainFrame() && r.request().isNavigationRequest()) page.status = r.status();
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The browser logs a refused document's own status; a page that shows a refusal
    // has one. Any other failed load (a script, a style, an image) counts.
    const own = m.text().match(/^Failed to load resource: the server responded with a status of (\d+)/);
    if (own && Number(own[1]) === page.status && m.location().url === page.url()) return;
    page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  return page;
}

/** No serious or critical accessibility violation (axe-core, WCAG 2.1 A and AA), no
 * console error; then a full-page screenshot named `name`. */
export async function check(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }),
  );
  const serious = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(serious, [], `${name}: accessibility`);
  assert.deepEqual(page.errors, [], `${name}: console errors`);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

