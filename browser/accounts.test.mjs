// Signed-in pages in a real browser (issue 18, items 8 and 9), against the server
// creditpool/tests/server/accounts.rs started on a loopback port with the sample data:
// a person registering, reading their record and report, granting an authorisation
// and revoking it while the grantee watches; agency staff having subjects verified and
// downloading the feedback letter; a source unit resolving an objection from its queue.
// Every page is checked with axe-core and kept as a screenshot in $SCREENSHOTS.
//
// FIXTURE: base_url, password, person {name, id_number, username}, grantee {name,
// username}, agency {username, organisation}, checked {name, uscc}, unit {username,
// name}, objected {uscc, record_id}, admin {username}.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fixture, base, shots, newPage, check } from './harness.mjs';

/** Logs `username` in from the login page; answers the page, where the login led. */
async function logIn(page, username, next = '') {
  await page.goto(`${base}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.getByLabel('登录名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForLoadState();
  return page;
}

test('a person registers against the population register, with every refusal beside its field (Q4)', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '我的账号' }).click();
  await page.waitForURL(/\/login\?next=%2Fme$/);
  await check(page, 'login');
  await page.getByRole('link', { name: '实名注册' }).click();
  await page.waitForURL(/\/register$/);
  await check(page, 'register');

  // A name that does not match the ID number: refused beside the ID number, kept.
  await page.getByLabel('姓名').fill('张冒名');
  await page.getByLabel('公民身份号码').fill(fixture.person.id_number);
  await page.getByLabel('登录名').fill(fixture.person.username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel('再次输入密码').fill(fixture.password);
  await page.getByRole('button', { name: '注册并登录' }).click();
  await page.waitForURL(/\/register$/);
  assert.equal(page.status, 422);
  assert.equal(await page.getByLabel('公民身份号码').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#id_number-error').innerText(), /人口信息库/);
  assert.equal(await page.getByLabel('姓名').inputValue(), '张冒名');
  assert.equal(await page.getByLabel('密码', { exact: true }).inputValue(), '', 'a password is never sent back');
  await check(page, 'register-refused');

  // Passwords that differ.
  await page.getByLabel('姓名').fill(fixture.person.name);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel('再次输入密码').fill(fixture.password + 'x');
  await page.getByRole('button', { name: '注册并登录' }).click();
  await page.waitForURL(/\/register$/);
  assert.match(await page.locator('#password_again-error').innerText(), /不一致/);

  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel('再次输入密码').fill(fixture.password);
  await page.getByRole('button', { name: '注册并登录' }).click();
  await page.waitForURL(/\/me$/);
  const text = await page.locator('main').innerText();
  assert.ok(text.includes(fixture.person.name));
  assert.match(text, /自然人/);
  await check(page, 'account-person');
});

test('a person reads their own record and downloads their report (Q4, Q5)', async () => {
  const page = await logIn(await newPage(), fixture.person.username);
  await page.waitForURL(/\/me$/);
  await page.getByRole('link', { name: /^查看本人信用记录/ }).click();
  await page.waitForURL(/\/persons\/P/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), `${fixture.person.name}的信用记录`);
  const text = await page.locator('main').innerText();
  assert.ok(!text.includes(fixture.person.id_number), 'the ID number is masked');
  assert.match(text, /公示信息/);
  await check(page, 'person-record');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '下载 PDF 报告' }).click(),
  ]);
  const pdf = path.join(shots, 'person-report.pdf');
  await download.saveAs(pdf);
  const report = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  assert.ok(report.includes(fixture.person.name), 'the report names the person');
});

test('a person grants an authorisation and revokes it, and the grantee sees it change at once (Q4)', async () => {
  const person = await logIn(await newPage(), fixture.person.username, '/me/authorisations');
  await person.waitForURL(/\/me\/authorisations$/);
  await check(person, 'authorisations-empty');

  // A refusal beside its field, what was typed kept.
  await person.getByLabel('被授权人登录名').fill('no.such.user');
  await person.getByLabel('用途').fill('办理个人住房贷款');
  await person.getByRole('button', { name: '授权', exact: true }).click();
  await person.waitForURL(/\/me\/authorisations$/);
  assert.equal(person.status, 422);
  assert.match(await person.locator('#grantee-error').innerText(), /没有使用这个登录名的其他用户/);
  assert.equal(await person.getByLabel('用途').inputValue(), '办理个人住房贷款');
  await check(person, 'authorisation-refused');

  await person.getByLabel('被授权人登录名').fill(fixture.grantee.username);
  await person.getByRole('button', { name: '授权', exact: true }).click();
  await person.waitForURL(/\/me\/authorisations\?done=granted$/);
  const granted = person.getByRole('row', { name: new RegExp(fixture.grantee.username) });
  assert.match(await granted.innerText(), /有效/);
  await check(person, 'authorisation-granted');

  // The grantee, in a browser of their own, finds the record and opens it.
  const grantee = await logIn(await newPage(), fixture.grantee.username);
  await grantee.waitForURL(/\/me$/);
  await grantee.getByRole('link', { name: fixture.person.name }).click();
  await grantee.waitForURL(/\/persons\/P/);
  const recordAddress = grantee.url();
  assert.equal(grantee.status, 200);
  assert.match(await grantee.locator('main').innerText(), /您凭.*的授权查看/);
  await check(grantee, 'person-record-by-grantee');

  // Revoked: the grantee's next look is refused, and their list says why.
  await person.getByRole('button', { name: `撤销对 ${fixture.grantee.username} 的授权` }).click();
  await person.waitForURL(/\/me\/authorisations\?done=revoked$/);
  assert.match(await person.locator('.notice.ok').innerText(), /授权已撤销/);
  assert.match(await granted.innerText(), /已撤销/);
  await check(person, 'authorisation-revoked');

  await grantee.reload();
  assert.equal(grantee.url(), recordAddress);
  assert.equal(grantee.status, 404);
  assert.match(await grantee.locator('main').innerText(), /须有本人的有效授权/);
  await grantee.goto(base + '/me');
  assert.equal(await grantee.getByRole('link', { name: fixture.person.name }).count(), 0);
  assert.match(await grantee.locator('main').innerText(), /已撤销/);
  await check(grantee, 'account-grantee-revoked');

  // Logging out ends the session: the account page asks to log in again.
  await grantee.getByRole('button', { name: '退出登录' }).click();
  await grantee.waitForURL(base + '/');
  await grantee.goto(base + '/me');
  await grantee.waitForURL(/\/login\?next=%2Fme$/);
});

test('agency staff have subjects verified and download the feedback letter (Q7)', async () => {
  const page = await logIn(await newPage(), fixture.agency.username);
  await page.waitForURL(/\/agency\/verifications$/);
  assert.match(await page.locator('main').innerText(), new RegExp(fixture.agency.organisation));
  await check(page, 'agency-verifications');

  // A line without its code is refused beside the list, naming the line.
  await page.getByLabel('核查事项').fill('2026 年度财政专项资金评审');
  await page.getByLabel('来函标题').fill('关于协助核查申报单位信用状况的函');
  await page.getByLabel(/核查名单/).fill(`${fixture.checked.name} ${fixture.checked.uscc}\n只有名称的单位`);
  await page.getByRole('button', { name: '核查并出具反馈函' }).click();
  await page.waitForURL(/\/agency\/verifications$/);
  assert.equal(page.status, 422);
  assert.match(await page.locator('#subjects-error').innerText(), /第 2 行/);
  assert.match(await page.getByLabel(/核查名单/).inputValue(), /只有名称的单位/);
  await check(page, 'agency-verification-refused');

  await page.getByLabel(/核查名单/).fill(`${fixture.checked.name} ${fixture.checked.uscc}`);
  await page.getByRole('button', { name: '核查并出具反馈函' }).click();
  await page.waitForURL(/\/agency\/verifications$/);
  assert.equal(page.status, 201);
  const issued = page.locator('.notice.ok');
  assert.match(await issued.innerText(), /已出具核查反馈函 HC\d+/);
  assert.ok((await issued.innerText()).includes(fixture.checked.uscc));
  await check(page, 'agency-verification-issued');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    issued.getByRole('link', { name: '下载反馈函（PDF）' }).click(),
  ]);
  const pdf = path.join(shots, 'verification-letter.pdf');
  await download.saveAs(pdf);
  const letter = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  assert.ok(letter.replace(/\s+/g, '').includes(fixture.checked.name), 'the letter names the subject');
  assert.ok(letter.includes(fixture.agency.organisation), 'addressed to the agency');
  // Listed among the agency's letters.
  assert.equal(await page.locator('section[aria-labelledby=letters-title] tbody tr').count(), 1);
});

test('a source unit resolves an objection from its queue, and the mark is lifted at once (Q8)', async () => {
  const page = await logIn(await newPage(), fixture.unit.username);
  await page.waitForURL(/\/source\/objections$/);
  assert.ok((await page.locator('main').innerText()).includes(fixture.unit.name));
  await check(page, 'source-queue');
  await page.locator('tbody tr a').first().click();
  await page.waitForURL(/\/source\/objections\/[^/?]+$/);
  assert.ok((await page.locator('main').innerText()).includes(fixture.objected.record_id));
  await check(page, 'source-objection');

  // Without an outcome, and with a reason too short: each refused beside its field.
  await page.getByLabel(/处理意见/).fill('好');
  await page.getByRole('button', { name: '办结' }).click();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#outcome-error').innerText(), /请选择处理结果/);
  await page.getByLabel('经核实记录无误，予以维持').check();
  await page.getByRole('button', { name: '办结' }).click();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#resolution-error').innerText(), /4 到 2000 个字/);
  assert.equal(await page.getByLabel(/处理意见/).inputValue(), '好');
  await check(page, 'source-objection-refused');

  await page.getByLabel('经核实记录无误，予以维持').check();
  await page.getByLabel(/处理意见/).fill('经与原始档案核对，该记录内容准确，予以维持。');
  await page.getByRole('button', { name: '办结' }).click();
  await page.waitForURL(/\?done=1$/);
  assert.match(await page.locator('.notice.ok').innerText(), /已办结/);
  assert.match(await page.locator('table.facts').innerText(), /予以维持/);
  await check(page, 'source-objection-resolved');

  const subject = await newPage();
  await subject.goto(`${base}/subjects/${fixture.objected.uscc}`);
  assert.equal(await subject.locator('table.record.objected').count(), 0, 'no longer marked');
});

test('an administrator reads the audit log, filters it, and sees that the chain verifies (issue 19)', async () => {
  const page = await logIn(await newPage(), fixture.admin.username);
  await page.waitForURL(/\/console$/);
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '审计日志' }).click();
  await page.waitForURL(/\/console\/audit$/);
  assert.match(await page.locator('.notice.ok').innerText(), /审计链校验通过：共 \d+ 条记录/);
  const actions = await page.locator('table.audit tbody tr td:nth-child(4)').allTextContents();
  assert.ok(actions.includes('session.created') && actions.includes('authorisation.revoked'), `${actions}`);
  await check(page, 'console-audit');

  await page.getByLabel(/^操作（/).fill('objection.');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/action=objection\./);
  const filtered = await page.locator('table.audit tbody tr td:nth-child(4)').allTextContents();
  assert.ok(filtered.every((a) => a.startsWith('objection.')), `${filtered}`);
  assert.ok(filtered.includes('objection.accepted') && filtered.includes('objection.resolved'), `${filtered}`);

  await page.getByLabel(/^起始/).fill('yesterday');
  await page.getByRole('button', { name: '查询' }).click();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#since-error').innerText(), /请填写时间/);
  assert.equal(await page.getByLabel(/^起始/).inputValue(), 'yesterday');
  await check(page, 'console-audit-refused');

  // The verification ledger: the agency's letter, downloadable as archived.
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '核查台账' }).click();
  await page.waitForURL(/\/console\/verifications$/);
  const row = page.locator('tbody tr', { hasText: fixture.agency.organisation });
  assert.ok((await row.count()) >= 1);
  const [letter] = await Promise.all([
    page.waitForEvent('download'),
    row.first().getByRole('link', { name: /下载 PDF/ }).click(),
  ]);
  assert.match(letter.suggestedFilename(), /\.pdf$/);
  await check(page, 'console-verifications');
});

test('the audit log is not there for anyone but administrators', async () => {
  const page = await logIn(await newPage(), fixture.person.username);
  await page.goto(`${base}/console/audit`);
  assert.equal(page.status, 403);
  assert.equal(await page.locator('table.audit').count(), 0);
});
