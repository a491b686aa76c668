// An applicant in a real browser (issue 19, BRIEF P1, P2), against the server
// creditpool/tests/server/workspace.rs: registration from the login page (passwords that
// differ, and one too short, refused on their fields), then a new application; an evidence file refused for its content, then one taken with its
// progress shown; a submission with fields missing refused with every fault named at
// once and what was typed kept; the complete form submitted; the entry criteria's
// results with the records each used, and the status.
//
// FIXTURE: base_url, password, username, enterprise {uscc, name}, pdf (a PDF file),
// fake_pdf (a file named .pdf that is not one).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, base, newPage, check } from './harness.mjs';

test('an applicant fills in 附件2, uploads evidence and submits, every fault named at once (P1, P2)', async () => {
  const page = await newPage();
  await page.goto(`${base}/login`);
  await page.getByRole('link', { name: '注册申请账号' }).click();
  await page.waitForURL(/\/apply\/register$/);
  await page.getByLabel('经办人姓名').fill('王敏');
  await page.getByLabel('登录名').fill(fixture.username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel('再次输入密码').fill(`${fixture.password}x`);
  await page.getByRole('button', { name: '注册并开始申请' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#password_again-error').innerText(), /不一致/);
  assert.equal(await page.getByLabel('登录名').inputValue(), fixture.username, 'kept');
  await page.getByLabel('密码', { exact: true }).fill('short');
  await page.getByLabel('再次输入密码').fill('short');
  await page.getByRole('button', { name: '注册并开始申请' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.ok((await page.locator('#password-error').innerText()).length > 0);
  await check(page, 'apply-register-refused');
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByLabel('再次输入密码').fill(fixture.password);
  await page.getByRole('button', { name: '注册并开始申请' }).click();
  await page.waitForURL(/\/apply$/);
  await check(page, 'apply-list');
  await page.getByRole('button', { name: '新建申请' }).click();
  await page.waitForURL(/\/apply\/[^/?#]+$/);
  const form = page.url();

  // Evidence: a file that is not what its name says is refused on the field.
  await page.getByLabel('证明材料文件').setInputFiles(fixture.fake_pdf);
  await page.getByRole('button', { name: '上传', exact: true }).click();
  await page.locator('#file-error').waitFor();
  page.errors = page.errors.filter((e) => !/status of 4\d\d/.test(e));
  await page.getByLabel('证明材料文件').setInputFiles(fixture.pdf);
  await page.getByRole('button', { name: '上传', exact: true }).click();
  await page.getByRole('link', { name: '等保三级测评报告.pdf' }).waitFor();

  // Submitting with most fields empty: every fault at once, what was typed kept.
  await page.getByLabel('服务对象名称').fill(fixture.enterprise.name);
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422, `${page.url()} ${(await page.locator('main').innerText()).slice(0, 300)}`);
  const faults = await page.locator('[role="alert"] li').count();
  assert.ok(faults >= 5, `every fault named: ${faults}`);
  // In Chinese, each saying what to do, beside its field too.
  const summary = await page.locator('[role="alert"] li').allTextContents();
  assert.ok(summary.includes('请填写统一社会信用代码。'), summary.join(' | '));
  assert.ok(summary.every((line) => !/[a-z]{4,}/.test(line)), summary.join(' | '));
  assert.equal(await page.getByLabel('服务对象名称').inputValue(), fixture.enterprise.name);
  assert.equal(await page.getByLabel('统一社会信用代码').getAttribute('aria-invalid'), 'true');
  await check(page, 'apply-refused');

  // The complete form.
  await page.getByLabel('统一社会信用代码').fill(fixture.enterprise.uscc);
  await page.getByLabel('联系人').fill('王敏');
  await page.getByLabel('联系电话').fill('0571-87654321');
  await page.getByLabel('基本情况').fill('2015年成立的企业征信机构，已备案。');
  const security = page.locator('fieldset.qualification').first();
  await security.getByRole('checkbox').first().check();
  await security.getByLabel('说明').fill('等保三级');
  await security.getByRole('checkbox', { name: '等保三级测评报告.pdf' }).check();
  await page.getByLabel('信用产品名称').fill('小微企业信用评分');
  await page.getByLabel('创新点').fill('融合公共信用信息与经营数据');
  await page.getByLabel('应用场景').fill('普惠信贷审批');
  await page.getByLabel('第 1 阶段开始日期').fill('2027-01-01');
  await page.getByLabel('第 1 阶段结束日期').fill('2027-06-30');
  await page.getByLabel('第 1 阶段内容').fill('建模与验证');
  for (const table of ['enterprises', 'admin_penalties', 'abnormal_operations']) {
    await page.locator(`input[name="ds.${table}"]`).check();
  }
  await page.getByLabel('第 1 个自有数据表名称').fill('贷款表现');
  await page.getByLabel('第 1 个自有数据表来源').fill('本机构');
  await page.getByRole('checkbox', { name: '本机构作出以上承诺' }).check();
  await page.getByLabel(/^承诺人/).fill('李强');
  await page.getByRole('button', { name: '保存草稿' }).click();
  await page.waitForURL(/\?saved=1$/);
  assert.equal(await page.getByLabel('联系人').inputValue(), '王敏', 'the draft keeps it');
  await check(page, 'apply-draft');
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.waitForURL(/\?saved=1$/);

  // Submitted: read-only, the criteria with their records, the status.
  const text = await page.locator('main').innerText();
  assert.match(text, /已提交，待分配评审/);
  assert.equal(await page.locator('div.criterion').count(), 4);
  assert.equal(await page.getByRole('button', { name: '提交申请' }).count(), 0, 'no longer editable');
  await check(page, 'apply-submitted');
  await page.goto(`${base}/apply`);
  assert.match(await page.locator('main').innerText(), /已提交，待分配评审/);
  assert.ok(form.length > 0);
});
