// A staff member's first login from the pages when the platform requires a second
// factor (issue 15 and 18), against the server creditpool/tests/server/accounts.rs
// started with second factors required: the login leads to setting one up (a QR code and
// the secret), the first code confirms it and the recovery codes are shown once; the next
// login asks for a code, and a recovery code serves once in its place.
//
// Then someone not required to have one sets it up from their account page, and renews
// their recovery codes with a code of the app.
//
// FIXTURE: base_url, password, username (agency staff without a second factor),
// voluntary (an applicant, not required to have one).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { fixture, base, newPage, check } from './harness.mjs';

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 `secret` now. */
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

async function logIn(page, oneTimeCode = '', username = fixture.username) {
  await page.goto(`${base}/login`);
  await page.getByLabel('登录名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  if (oneTimeCode) await page.getByLabel(/动态验证码/).fill(oneTimeCode);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForLoadState();
}

test('staff set up their second factor from the login page and keep recovery codes (issue 15)', async () => {
  const page = await newPage();
  await logIn(page);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '设置双重验证');
  const qr = page.getByRole('img', { name: /二维码/ });
  assert.ok((await qr.getAttribute('src')).startsWith('data:image/svg+xml,'));
  assert.ok((await qr.boundingBox()).width >= 150, 'the QR code is drawn');
  const secret = await page.getByLabel(/密钥/).inputValue();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  await check(page, 'enrol');

  // A wrong code does not confirm it.
  await page.getByLabel(/再次输入/).fill(fixture.password);
  await page.getByLabel('应用显示的验证码').fill('000000' === totp(secret) ? '111111' : '000000');
  await page.getByRole('button', { name: '完成设置并登录' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 401);
  assert.equal(await page.getByLabel(/动态验证码/).getAttribute('aria-invalid'), 'true');

  // The code of the app confirms it: the recovery codes, once, then the role's page.
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel(/动态验证码/).fill(totp(secret));
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForLoadState();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '双重验证已开启');
  const codes = await page.locator('ol.codes code').allTextContents();
  assert.ok(codes.length >= 8, `recovery codes: ${codes}`);
  await check(page, 'recovery-codes');
  await page.getByRole('link', { name: '我已保存，继续' }).click();
  await page.waitForURL(/\/agency\/verifications$/);

  // Next time a code is asked for; a recovery code serves in its place, once.
  await page.getByRole('link', { name: '我的账号', exact: true }).first().click();
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.waitForURL(base + '/');
  await logIn(page);
  assert.equal(page.status, 401);
  assert.ok((await page.locator('#one_time_code-error').innerText()).length > 0);
  await check(page, 'login-code-required');
  await logIn(page, codes[0]);
  await page.waitForURL(/\/agency\/verifications$/);
  await page.getByRole('link', { name: '我的账号', exact: true }).first().click();
  await page.getByRole('button', { name: '退出登录' }).click();
  await logIn(page, codes[0]);
  assert.equal(page.status, 401, 'a recovery code serves once');
});

test('anyone sets up a second factor from their account page and renews their recovery codes', async () => {
  const page = await newPage();
  await logIn(page, '', fixture.voluntary);
  await page.waitForURL(/\/apply$/);
  await page.goto(`${base}/me`);
  await page.getByRole('link', { name: '双重验证' }).click();
  await page.waitForURL(/\/me\/second-factor$/);
  await page.getByRole('button', { name: '开启双重验证' }).click();
  await page.waitForLoadState();
  const secret = await page.getByLabel(/密钥/).inputValue();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  await page.getByLabel(/再次输入/).fill(fixture.password);
  await page.getByLabel('应用显示的验证码').fill(totp(secret));
  await page.getByRole('button', { name: '完成设置并登录' }).click();
  await page.waitForLoadState();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '双重验证已开启');
  const first = await page.locator('ol.codes code').allTextContents();
  await page.getByRole('link', { name: '我已保存，继续' }).click();
  await page.waitForURL(/\/me\/second-factor$/);
  assert.match(await page.locator('[role="status"]').innerText(), /已开启双重验证/);

  // New recovery codes: a wrong code is refused beside its field; the app's next code
  // (a code serves once, so the next 30-second step) gives new ones.
  await page.getByLabel('应用现在显示的验证码').fill('12345');
  await page.getByRole('button', { name: '生成新的恢复码' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  assert.match(await page.locator('#one_time_code-error').innerText(), /6 位/);
  await check(page, 'second-factor-refused');
  await new Promise((resolve) => setTimeout(resolve, 30_500 - (Date.now() % 30_000)));
  await page.getByLabel('应用现在显示的验证码').fill(totp(secret));
  await page.getByRole('button', { name: '生成新的恢复码' }).click();
  await page.waitForLoadState();
  const second = await page.locator('ol.codes code').allTextContents();
  assert.ok(second.length >= 8, `recovery codes: ${second}`);
  assert.ok(second.every((c) => !first.includes(c)), 'new codes');
});
