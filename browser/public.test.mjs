// The public credit site in a real browser (issue 18): Debian's chromium driven by
// playwright-core, against the server creditpool/tests/server/browser.rs started on a
// loopback port with the sample data. Every page is checked with axe-core (no serious or
// critical violation) and kept as a screenshot in $SCREENSHOTS.
//
// Run by the Rust test, which passes: BROWSER_TOOLS (the folder scripts/setup installs
// the packages into), FIXTURE (a JSON file: base_url, subject, fragment, objected,
// bad_code) and SCREENSHOTS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fixture, base, shots, newPage, check } from './harness.mjs';

test('the home page searches by part of a name and highlights the match (Q4)', async () => {
  const page = await newPage();
  const response = await page.goto(base + '/');
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await check(page, 'home');

  await page.getByRole('searchbox', { name: '统一社会信用代码或名称' }).fill(fixture.fragment);
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/search\?q=/);
  const marks = await page.locator('ol.results mark').allTextContents();
  assert.ok(marks.length > 0, 'matches are highlighted');
  for (const mark of marks) assert.equal(mark, fixture.fragment);
  assert.match(await page.locator('main').innerText(), /共 \d+ 个/);
  await check(page, 'search-by-name');
});

test('a code finds its subject, and the subject page shows its records by section (Q1–Q3)', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.getByRole('searchbox', { name: '统一社会信用代码或名称' }).fill(fixture.subject.uscc);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/search\?q=/);
  assert.match(await page.locator('main').innerText(), /按统一社会信用代码查询/);
  await check(page, 'search-by-code');

  await page.getByRole('link', { name: fixture.subject.name }).click();
  await page.waitForURL(new RegExp(`/subjects/${fixture.subject.uscc}$`));
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), fixture.subject.name);
  const text = await page.locator('main').innerText();
  assert.ok(text.includes(fixture.subject.uscc));
  assert.match(text, /公示信息/);
  // Fields under their Chinese labels, not their column names.
  assert.ok(!/\brecord_id\b|\bdecision_date\b|\bsource_unit\b/.test(text), 'no column names shown');
  // Nor codes: 法定代表人, not legal_representative.
  assert.ok(!/\b(legal_representative|director|supervisor|manager|general|serious)\b/.test(text), 'no codes shown');
  await check(page, 'subject');
});

test('a record under objection is marked on the subject page and in the results (Q8)', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.objected.uscc}`);
  const marked = page.locator('table.record.objected');
  assert.equal(await marked.count(), 1);
  assert.match(await marked.innerText(), /异议处理中/);
  assert.ok((await marked.innerText()).includes(fixture.objected.record_id));
  await check(page, 'subject-under-objection');

  await page.goto(`${base}/search?q=${encodeURIComponent(fixture.objected.uscc)}`);
  assert.match(await page.locator('ol.results').innerText(), /异议处理中/);
});

test('a code failing its check digit is searched with a warning', async () => {
  const page = await newPage();
  await page.goto(`${base}/search?q=${fixture.bad_code}`);
  const warning = page.locator('.notice.warning');
  assert.equal(await warning.count(), 1);
  assert.ok((await warning.innerText()).length > 0);
  await check(page, 'search-bad-check-digit');
});

test('special lists and sector queries, with a field error that keeps what was typed (Q4)', async () => {
  const page = await newPage();
  await page.goto(base + '/special');
  await check(page, 'special-lists');
  await page.getByRole('link', { name: /严重失信主体名单/ }).click();
  await page.waitForURL(/\/special\/black_list/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '严重失信主体名单');
  await check(page, 'special-black-list');

  await page.goto(base + '/sectors');
  await check(page, 'sectors');
  const code = page.getByLabel('行业代码（GB/T 4754，如 O801）');
  await code.fill('8O1');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/sectors\?code=/);
  assert.equal(await code.inputValue(), '8O1');
  assert.equal(await code.getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#code-error').innerText(), /一个字母加至多四位数字/);
  await check(page, 'sectors-invalid-code');
  await code.fill('O801');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/sectors\/O801/);
  await check(page, 'sector');
});

test('pages work without JavaScript and fit a phone', async () => {
  const page = await newPage({ width: 390, javaScript: false });
  await page.goto(base + '/');
  await page.getByRole('searchbox', { name: '统一社会信用代码或名称' }).fill(fixture.fragment);
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/search\?q=/);
  assert.ok((await page.locator('ol.results li').count()) > 0);
  // Paging is a plain link without JavaScript.
  await page.goto(`${base}/search?q=${encodeURIComponent('公司')}`);
  await page.getByRole('link', { name: '下一页' }).click();
  await page.waitForURL(/page=2$/);
  assert.match(await page.locator('nav.pages .current').innerText(), /第 2 \//);
  await page.goto(`${base}/subjects/${fixture.subject.uscc}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the subject page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: path.join(shots, 'subject-phone.png'), fullPage: true });
});

test("with JavaScript, a list's next page replaces only its results (htmx)", async () => {
  const page = await newPage();
  await page.goto(`${base}/search?q=${encodeURIComponent('公司')}`);
  // A mark a full page load would wipe out.
  await page.evaluate(() => { window.stillHere = true; });
  const first = await page.locator('ol.results li').first().innerText();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('page=2')),
    page.getByRole('link', { name: '下一页' }).click(),
  ]);
  assert.equal(response.request().headers()['hx-request'], 'true');
  const body = await response.text();
  assert.ok(!body.includes('<html') && body.includes('id="results"'), 'the results alone');
  await page.waitForURL(/page=2$/);
  await page.locator('nav.pages .current', { hasText: '第 2 /' }).waitFor();
  assert.notEqual(await page.locator('ol.results li').first().innerText(), first);
  assert.equal(await page.evaluate(() => window.stillHere), true, 'no page load');
  assert.equal(await page.locator('h1').count(), 1, 'the page around the results kept once');
  await check(page, 'search-page-2');
});

test('an unknown address is a page saying so', async () => {
  const page = await newPage();
  const response = await page.goto(base + '/no/such/page');
  assert.equal(response.status(), 404);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '未找到');
  await check(page, 'not-found');
});

test('hostile input is shown as text, never run', async () => {
  const page = await newPage();
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  const hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>';
  await page.goto(`${base}/search?q=${encodeURIComponent(hostile)}`);
  assert.equal(dialogs, 0);
  assert.equal(await page.getByRole('searchbox').inputValue(), hostile);
  assert.equal(await page.locator('main img, main script').count(), 0);
});

test('a report is requested, read back, verified by its QR address and checked byte for byte (Q5, Q6)', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.subject.uscc}`);
  await page.getByLabel('查询人（印在报告水印上，可不填）').fill('某某银行信贷部');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '下载 PDF 报告' }).click(),
  ]);
  const pdf = path.join(shots, 'report.pdf');
  await download.saveAs(pdf);
  const text = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  assert.ok(text.includes(fixture.subject.name), 'the report names its subject');
  assert.ok(text.includes(fixture.subject.uscc));
  // The address the QR code encodes is printed beside it: a page of this site.
  const printed = text.replace(/\s+/g, '').match(/(http:\/\/[^/]+\/verify\?number=\d+&code=[A-Z0-9-]+)验证本报告/);
  assert.ok(printed, `the verification address is printed: ${text.slice(0, 400)}`);
  const address = new URL(printed[1]);
  assert.ok(address.searchParams.get('code'), 'the address carries the verification code');
  assert.equal(address.origin, new URL(base).origin);
  assert.equal(address.pathname, '/verify');

  await page.goto(address.href);
  const genuine = page.locator('.notice.ok');
  assert.match(await genuine.innerText(), /真实有效/);
  assert.ok((await page.locator('table.facts').innerText()).includes(fixture.subject.name));
  await check(page, 'verify-genuine');

  // The same file, then a copy with one byte changed.
  await page.getByLabel('报告文件').setInputFiles(pdf);
  await page.getByRole('button', { name: '核对' }).click();
  await page.waitForURL(/\/verify\/document$/);
  assert.match(await page.locator('.notice.ok').last().innerText(), /文件一致/);
  await check(page, 'verify-document-same');
  const bytes = readFileSync(pdf);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  const changed = path.join(shots, 'report-changed.pdf');
  writeFileSync(changed, bytes);
  await page.getByLabel('报告文件').setInputFiles(changed);
  await page.getByRole('button', { name: '核对' }).click();
  await page.waitForURL(/\/verify\/document$/);
  assert.match(await page.locator('.notice.error').innerText(), /文件不一致/);
  await check(page, 'verify-document-changed');

  // A wrong code is said plainly.
  await page.goto(`${address.origin}/verify?number=${address.searchParams.get('number')}&code=WRONGCODE0`);
  assert.match(await page.locator('.notice.error').innerText(), /无法验证/);
  await check(page, 'verify-not-genuine');
});

test('the printable report opens as a page', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.subject.uscc}`);
  await page.getByRole('button', { name: '打开可打印网页' }).click();
  await page.waitForURL(/\/report$/);
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(fixture.subject.name));
  assert.match(text, /社会公众/);
  await page.screenshot({ path: path.join(shots, 'report-printable.png'), fullPage: true });
});

test('a form without its token is refused and changes nothing', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.subject.uscc}`);
  await page.evaluate(() => document.querySelector('input[name=csrf]').remove());
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/report')),
    page.getByRole('button', { name: '打开可打印网页' }).click(),
  ]);
  assert.equal(response.status(), 403);
  assert.match(await page.locator('main').innerText(), /表单已过期/);
  await check(page, 'csrf-refused');
});

test('a requester too long is refused beside its field, with what was typed kept', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.subject.uscc}`);
  const requester = page.getByLabel('查询人（印在报告水印上，可不填）');
  const typed = '名'.repeat(55);
  await requester.fill(typed);
  await page.getByRole('button', { name: '下载 PDF 报告' }).click();
  await page.waitForURL(/\/report$/);
  assert.equal(await requester.inputValue(), typed);
  assert.equal(await requester.getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#requester-error').innerText(), /查询人最多 50 个字/);
  await check(page, 'report-requester-refused');
});

test('recommended products are listed for the public (P9)', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '推荐产品' }).click();
  await page.waitForURL(/\/products$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '推荐产品');
  await check(page, 'products');
});

test('an objection is filed from a record, followed with its token, and marks the record once accepted (Q8)', async () => {
  const page = await newPage();
  await page.goto(`${base}/subjects/${fixture.objectable.uscc}`);
  await page.locator(`a[href="/objections/new?record=${fixture.objectable.record_id}"]`).click();
  await page.waitForURL(/\/objections\/new\?record=/);
  assert.ok((await page.locator('table.facts').innerText()).includes(fixture.objectable.record_id));
  await check(page, 'objection-form');

  // Sent empty: every field at fault is named at once, beside it.
  await page.getByRole('button', { name: '提交异议' }).click();
  await page.waitForURL(/\/objections\/new$/);
  for (const field of ['applicant_name', 'applicant_code', 'phone', 'content']) {
    assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true', field);
    assert.ok((await page.locator(`#${field}-error`).innerText()).length > 0, field);
  }
  await check(page, 'objection-form-incomplete');

  // Filled in, one field wrong: only that one is named, and what was typed is kept.
  await page.getByLabel('申请人名称（企业登记名称或个人姓名）').fill(fixture.objectable.name);
  await page.getByLabel('统一社会信用代码或身份证号码').fill(fixture.objectable.uscc);
  await page.getByLabel('联系电话').fill('12345');
  await page.getByLabel('异议内容（哪里有误、应当如何）').fill('该记录的处罚决定已被复议撤销，请核实后更正。');
  await page.getByRole('button', { name: '提交异议' }).click();
  await page.waitForURL(/\/objections\/new$/);
  assert.equal(await page.locator('#phone').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#content').getAttribute('aria-invalid'), 'false');
  assert.equal(await page.locator('#applicant_name').inputValue(), fixture.objectable.name);
  await page.getByLabel('联系电话').fill('0571-87654321');
  await page.getByRole('button', { name: '提交异议' }).click();
  await page.waitForURL(/\/objections\/new$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '异议已提交');
  const facts = await page.locator('table.facts').innerText();
  const number = facts.match(/异议编号\s+(\S+)/)[1];
  assert.match(await page.locator('.notice.ok').innerText(), /异议已收到/);
  await check(page, 'objection-receipt');

  await page.getByRole('button', { name: '查看办理进度' }).click();
  await page.waitForURL(/\/objections\/follow$/);
  assert.match(await page.locator('table.facts').innerText(), /待受理/);
  await check(page, 'objection-follow');

  // Received, it marks nothing yet; accepted by the provider, the record is marked.
  await page.goto(`${base}/subjects/${fixture.objectable.uscc}`);
  assert.equal(await page.locator('table.record.objected').count(), 0);
  const auth = { authorization: `Bearer ${fixture.admin_token}`, 'content-type': 'application/json' };
  const received = await (await fetch(`${base}/api/v1/objections?status=received`, { headers: auth })).json();
  const filed = received.items.find((o) => o.number === number);
  assert.ok(filed, `objection ${number} awaits acceptance`);
  const accepted = await fetch(`${base}/api/v1/objections/${filed.id}/acceptance`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ decision: 'accept' }),
  });
  assert.equal(accepted.status, 200);
  await page.reload();
  assert.equal(await page.locator('table.record.objected').count(), 1);
  assert.ok((await page.locator('table.record.objected').innerText()).includes(fixture.objectable.record_id));

  // A wrong token shows nothing of it.
  await page.goto(`${base}/objections/follow`);
  await page.getByLabel('异议编号').fill(number);
  await page.getByLabel('查询码').fill('not-the-token');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/objections\/follow$/);
  assert.match(await page.locator('.notice.error').innerText(), /没有与这个编号和查询码相符的异议/);
  assert.equal(await page.locator('table.facts').count(), 0);
});

test('a complaint is filed, followed, answered and rated once (Q9, Q11)', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.getByRole('link', { name: '咨询投诉' }).click();
  await page.waitForURL(/\/tickets\/new$/);
  await check(page, 'ticket-form');

  await page.getByLabel('投诉').check();
  await page.getByLabel('事项').selectOption('wrong_association');
  await page.getByLabel('姓名或单位名称').fill('张三');
  await page.getByLabel('联系方式（手机、带区号的固定电话或电子邮箱）').fill('12345');
  await page.getByLabel('内容').fill('我的信用报告中关联了一条不属于我的处罚记录。');
  await page.getByRole('button', { name: '提交', exact: true }).click();
  await page.waitForURL(/\/tickets\/new$/);
  assert.equal(await page.locator('#contact').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('内容').inputValue(), '我的信用报告中关联了一条不属于我的处罚记录。');
  assert.ok(await page.getByLabel('投诉').isChecked(), 'the kind chosen is kept');
  await check(page, 'ticket-form-refused');

  await page.getByLabel('联系方式（手机、带区号的固定电话或电子邮箱）').fill('13812345678');
  await page.getByRole('button', { name: '提交', exact: true }).click();
  await page.waitForURL(/\/tickets\/new$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '咨询投诉已提交');
  const receipt = await page.locator('table.facts').innerText();
  const number = receipt.match(/编号\s+(\S+)/)[1];
  const token = receipt.match(/查询码\s+(\S+)/)[1];
  await check(page, 'ticket-receipt');
  await page.getByRole('button', { name: '查看办理进度' }).click();
  await page.waitForURL(/\/tickets\/follow$/);
  assert.match(await page.locator('table.facts').innerText(), /办理中/);
  assert.equal(await page.getByRole('button', { name: '提交评价' }).count(), 0, 'no rating before the answer');

  // Answered by the platform's staff (through the API), it can be rated once.
  const auth = { authorization: `Bearer ${fixture.admin_token}`, 'content-type': 'application/json' };
  const open = await (await fetch(`${base}/api/v1/tickets?status=open`, { headers: auth })).json();
  const ticket = open.items.find((t) => t.number === number);
  assert.ok(ticket, `ticket ${number} is open`);
  const answered = await fetch(`${base}/api/v1/tickets/${ticket.id}/answer`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ answer: '经核查，该处罚记录已从您的报告中解除关联。' }),
  });
  assert.equal(answered.status, 200);
  await page.goto(`${base}/tickets/follow`);
  await page.getByLabel('编号').fill(number);
  await page.getByLabel('查询码').fill(token);
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/\/tickets\/follow$/);
  assert.match(await page.locator('table.facts').innerText(), /已答复/);
  await check(page, 'ticket-answered');
  await page.getByRole('button', { name: '提交评价' }).click();
  await page.waitForURL(/\/tickets\/rating$/);
  assert.match(await page.locator('.notice.error').innerText(), /请评 1/);
  await page.getByLabel('5', { exact: true }).check();
  await page.getByLabel('意见（可不填）').fill('答复及时。');
  await page.getByRole('button', { name: '提交评价' }).click();
  await page.waitForURL(/\/tickets\/rating$/);
  assert.match(await page.locator('table.facts').innerText(), /5 分（满分 5 分）：答复及时。/);
  assert.equal(await page.getByRole('button', { name: '提交评价' }).count(), 0, 'rated once');
  await check(page, 'ticket-rated');
});
