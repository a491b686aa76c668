// The whole journey on pages alone (issue 19), in a real browser against the server
// creditpool/tests/server/workspace.rs started with nothing but accounts: an applicant
// applies with evidence → the administrator assigns three experts → each reviews → the
// administrator approves and opens the account in a batch → the institution uploads its
// loans as CSV and a model, runs a join-and-score job and watches it finish, takes a
// sample and downloads it, evaluates the model and sees the ROC chart, registers a
// product → the experts recommend it → it is on the public products page; then the
// administrator suspends the institution and its open page stops at once; the audit
// page shows the steps and says the chain verifies.
//
// FIXTURE: base_url, password, applicant, admin, experts [3 usernames], enterprise
// {uscc, name}, pdf, loans_csv, model_wat, scored (the SQL).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fixture, base, newPage, check } from './harness.mjs';

const PRODUCT = '小微企业贷前风险分';

async function logIn(username, landing) {
  const page = await newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('登录名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(landing);
  return page;
}

/** The checkbox that assigns `username` on an administrator's panel. */
function assignBox(page, username) {
  return page.getByRole('checkbox', { name: new RegExp(`^分配 .*${username.replaceAll('.', '\\.')}`) });
}

test('from an application to a recommended product and a suspension, on pages alone', async () => {
  // 1. The applicant applies with evidence.
  const bank = await logIn(fixture.applicant, /\/apply$/);
  await bank.getByRole('button', { name: '新建申请' }).click();
  await bank.waitForURL(/\/apply\/[^/?#]+$/);
  await bank.getByLabel('证明材料文件').setInputFiles(fixture.pdf);
  await bank.getByRole('button', { name: '上传', exact: true }).click();
  await bank.getByRole('link', { name: '等保三级测评报告.pdf' }).waitFor();
  await bank.getByLabel('服务对象名称').fill(fixture.enterprise.name);
  await bank.getByLabel('统一社会信用代码').fill(fixture.enterprise.uscc);
  await bank.getByLabel('联系人').fill('王敏');
  await bank.getByLabel('联系电话').fill('0571-87654321');
  await bank.getByLabel('基本情况').fill('2015年成立的企业征信机构，已备案。');
  const security = bank.locator('fieldset.qualification').first();
  await security.getByRole('checkbox').first().check();
  await security.getByLabel('说明').fill('等保三级');
  await security.getByRole('checkbox', { name: '等保三级测评报告.pdf' }).check();
  await bank.getByLabel('信用产品名称').fill(PRODUCT);
  await bank.getByLabel('创新点').fill('融合公共信用信息与经营数据');
  await bank.getByLabel('应用场景').fill('普惠信贷审批');
  await bank.getByLabel('第 1 阶段开始日期').fill('2027-01-01');
  await bank.getByLabel('第 1 阶段结束日期').fill('2027-06-30');
  await bank.getByLabel('第 1 阶段内容').fill('建模与验证');
  for (const table of ['enterprises', 'admin_penalties', 'abnormal_operations']) {
    await bank.locator(`input[name="ds.${table}"]`).check();
  }
  await bank.getByLabel('第 1 个自有数据表名称').fill('贷款表现');
  await bank.getByLabel('第 1 个自有数据表来源').fill('本机构');
  await bank.getByRole('checkbox', { name: '本机构作出以上承诺' }).check();
  await bank.getByLabel(/^承诺人/).fill('李强');
  await bank.getByRole('button', { name: '提交申请' }).click();
  await bank.waitForURL(/\?saved=1$/);
  assert.match(await bank.locator('main').innerText(), /已提交，待分配评审/);

  // 2. The administrator assigns three experts.
  const admin = await logIn(fixture.admin, /\/console$/);
  await admin.goto(`${base}/console/applications?show=submitted`);
  await admin.getByRole('link', { name: fixture.enterprise.name }).click();
  await admin.waitForURL(/\/console\/applications\/[^/?]+$/);
  const application = admin.url();
  for (const expert of fixture.experts) await assignBox(admin, expert).check();
  await admin.getByRole('button', { name: '分配勾选的专家' }).click();
  await admin.waitForURL(/\?done=assigned$/);

  // 3. Each expert reviews the application.
  const experts = [];
  for (const [i, username] of fixture.experts.entries()) {
    const expert = await logIn(username, /\/review$/);
    experts.push(expert);
    await expert.getByRole('link', { name: fixture.enterprise.name }).click();
    await expert.waitForURL(/\/review\/applications\//);
    await expert.getByLabel(/^合规性/).fill('90');
    await expert.getByLabel(/^创新性/).fill('80');
    await expert.getByLabel(/^发展前景/).fill('85');
    await expert.getByLabel('评审意见', { exact: true }).fill(`材料齐全，符合条件（专家 ${i + 1}）`);
    await expert.getByRole('button', { name: '提交评审意见' }).click();
    await expert.waitForURL(/\?saved=1$/);
  }

  // 4. The decision, and the account opened in a batch.
  await admin.goto(application);
  await admin.getByLabel('批准', { exact: true }).check();
  await admin.getByLabel('理由').fill('三位专家一致同意');
  await admin.getByRole('button', { name: '记录决定' }).click();
  await admin.waitForURL(/\?done=decided$/);
  await admin.goto(`${base}/console/applications?show=approved`);
  await admin.getByRole('checkbox', { name: `为 ${fixture.enterprise.name} 开户` }).check();
  await admin.getByRole('button', { name: '为勾选的申请开户' }).click();
  await admin.waitForURL(/opened=1$/);

  // 5. The institution works: its loans, a model, a scored job, a sample, an evaluation.
  await bank.goto(`${base}/workspace`);
  assert.equal(await bank.locator('meter').count(), 7);
  await bank.goto(`${base}/workspace/data`);
  await bank.getByLabel(/^表名/).fill('loans');
  await bank.getByLabel(/^敏感列/).fill('loan_id:masked');
  await bank.getByLabel(/^文件/).setInputFiles(fixture.loans_csv);
  await bank.getByRole('button', { name: '上传并校验' }).click();
  await bank.getByRole('heading', { name: /^校验报告/ }).waitFor();
  await bank.goto(`${base}/workspace/models`);
  await bank.getByLabel(/^模型文件/).setInputFiles(fixture.model_wat);
  await bank.getByRole('button', { name: '上传并检查' }).click();
  await bank.getByText(/已上传模型 linear_score/).waitFor();
  await bank.goto(`${base}/workspace/jobs`);
  await bank.getByLabel(/^SQL/).fill(fixture.scored);
  await bank.getByRole('button', { name: '提交作业' }).click();
  await bank.waitForURL(/\/workspace\/jobs\/[^/]+$/);
  await bank.getByRole('heading', { name: '资源报告' }).waitFor({ timeout: 120_000 });
  const job = bank.url();
  await bank.getByRole('button', { name: '抽取样本' }).click();
  await bank.waitForURL(/\/sample#sample-title$/);
  const [download] = await Promise.all([
    bank.waitForEvent('download'),
    bank.getByRole('button', { name: '下载 CSV' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /\.csv$/);
  const leakedFile = await download.path();
  const leaked = (await readFile(leakedFile, 'utf8')).trim().split(/\r?\n/);
  await bank.goto(job);
  await bank.getByLabel(/^评分列/).selectOption('risk');
  await bank.getByLabel(/^结果列/).selectOption('bad');
  await bank.getByRole('button', { name: '发布评估' }).click();
  await bank.waitForURL(/\/evaluation#evaluation-title$/);
  assert.equal((await bank.locator('svg.roc polyline').getAttribute('points')).split(' ').length, 11);
  // The ledger of its releases, each with its fingerprint.
  await bank.getByRole('navigation', { name: '工作台' }).getByRole('link', { name: '发布台账' }).click();
  await bank.waitForURL(/\/workspace\/releases$/);
  const kinds = await bank.locator('table.releases tbody tr td:nth-child(2)').allTextContents();
  assert.deepEqual(kinds, ['评估', '抽样']);
  await check(bank, 'journey-releases');

  // 6. The product registered from the job.
  await bank.goto(`${base}/workspace/products`);
  await bank.getByLabel('产品名称').fill(PRODUCT);
  await bank.getByLabel('联系人').fill('王敏');
  await bank.getByLabel('联系电话').fill('13812345678');
  await bank.getByLabel(/^作业/).selectOption({ index: 1 });
  await bank.getByLabel('使用的数据').fill('本机构贷款表现数据，公共信用信息中的行政处罚、经营异常名录和登记信息');
  await bank.getByLabel('模型说明').fill('线性评分卡（WebAssembly 模型 linear_score）');
  await bank.getByLabel('产品说明').fill('借款企业风险分，分值越高风险越大');
  await bank.getByLabel('应用场景').fill('普惠小微贷款的贷前审批');
  await bank.getByRole('button', { name: '登记产品' }).click();
  await bank.waitForURL(/registered=1$/);

  // 7. Assigned, reviewed, recommended: on the public products page.
  await admin.goto(`${base}/console/products`);
  await admin.getByRole('link', { name: PRODUCT }).click();
  await admin.waitForURL(/\/console\/products\/[^/?]+$/);
  const product = admin.url();
  for (const expert of fixture.experts) await assignBox(admin, expert).check();
  await admin.getByRole('button', { name: '分配勾选的专家' }).click();
  await admin.waitForURL(/\?done=assigned$/);
  for (const [i, expert] of experts.entries()) {
    await expert.goto(`${base}/review`);
    await expert.getByRole('link', { name: PRODUCT }).click();
    await expert.waitForURL(/\/review\/products\//);
    await expert.getByLabel(/^市场需求/).fill('85');
    await expert.getByLabel(/^创新性/).fill('75');
    await expert.getByLabel(/^机构管理/).fill('90');
    await expert.getByLabel('推荐', { exact: true }).check();
    await expert.getByLabel('评审意见', { exact: true }).fill(`建议推荐（专家 ${i + 1}）`);
    await expert.getByRole('button', { name: '提交评审意见' }).click();
    await expert.waitForURL(/\?saved=1$/);
  }
  await admin.goto(product);
  await admin.getByLabel('推荐', { exact: true }).check();
  await admin.getByLabel('理由').fill('三位专家一致推荐');
  await admin.getByRole('button', { name: '记录决定' }).click();
  await admin.waitForURL(/\?done=decided$/);
  const visitor = await newPage();
  await visitor.goto(`${base}/products`);
  assert.ok((await visitor.locator('main').innerText()).includes(PRODUCT));

  // 8. Suspended: the institution's open page stops at once.
  await bank.goto(`${base}/workspace/jobs`);
  await admin.goto(`${base}/console/institutions`);
  await admin.getByRole('link', { name: fixture.enterprise.name }).click();
  await admin.getByLabel('暂停原因').fill('未按期提交进度报告');
  await admin.getByLabel('整改期限').fill('2027-01-15');
  await admin.getByRole('checkbox', { name: /确认暂停/ }).check();
  await admin.getByRole('button', { name: '暂停账户' }).click();
  await admin.waitForURL(/\?done=suspended$/);
  await bank.getByLabel(/^SQL/).fill('SELECT 1');
  await bank.getByRole('button', { name: '提交作业' }).click();
  await bank.waitForLoadState();
  assert.equal(bank.status, 403);

  // The ledger across institutions.
  await admin.goto(`${base}/console/releases`);
  assert.equal(await admin.locator('table.releases tbody tr').count(), 2);
  assert.ok((await admin.locator('table.releases').innerText()).includes(fixture.enterprise.name));
  await check(admin, 'console-releases');

  // Leak tracing: nothing to trace is refused on the field; the downloaded sample's
  // header and three rows, pasted as a spreadsheet copies them (tab-separated, the
  // columns reversed), lead to the release; so does the file itself.
  await admin.getByRole('link', { name: '追溯泄露数据' }).click();
  await admin.waitForURL(/\/console\/releases\/trace$/);
  await admin.getByRole('button', { name: '追溯' }).click();
  await admin.waitForLoadState();
  assert.equal(admin.status, 422);
  assert.match(await admin.locator('#rows-error').innerText(), /请粘贴/);
  const pasted = leaked.slice(0, 4).map((line) => line.split(',').reverse().join('\t')).join('\n');
  await admin.getByLabel(/^粘贴数据行/).fill(pasted);
  await admin.getByRole('button', { name: '追溯' }).click();
  await admin.waitForLoadState();
  const found = admin.locator('table.releases tbody tr');
  assert.equal(await found.count(), 1);
  assert.ok((await found.innerText()).includes(fixture.enterprise.name));
  assert.equal(await found.locator('td:nth-child(4)').innerText(), '3', 'three rows matched');
  await check(admin, 'console-trace');
  await admin.getByLabel(/^粘贴数据行/).fill('');
  await admin.getByLabel('或上传文件').setInputFiles(leakedFile);
  await admin.getByRole('button', { name: '追溯' }).click();
  await admin.waitForLoadState();
  assert.match(await admin.locator('[role="status"]').innerText(), new RegExp(`读取了 ${leaked.length} 行，在 1 次抽样发布中找到`));
  assert.equal(await admin.locator('table.releases tbody tr td:nth-child(4)').innerText(), String(leaked.length - 1));

  // 9. The audit page shows the steps, and the chain verifies.
  await admin.goto(`${base}/console/audit`);
  assert.match(await admin.locator('.notice.ok').innerText(), /审计链校验通过/);
  const actions = await admin.locator('table.audit tbody tr td:nth-child(4)').allTextContents();
  for (const action of ['institution.suspended', 'product.recommended', 'product.reviewed', 'release.evaluation', 'release.sample', 'job.submitted']) {
    assert.ok(actions.includes(action), `${action} in ${actions}`);
  }
  await check(admin, 'journey-audit');
});
