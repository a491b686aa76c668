// An institution's workspace in a real browser (issue 19), against the server
// creditpool/tests/server/workspace.rs started on a loopback port with the sample data
// and an institution opened: the dashboard's gauges, its loans uploaded as CSV and a
// model (each refused first as it should be), the tables, the SQL editor refusing SQL with the position, a join-and-score
// job watched to its end, a sample shown and downloaded as CSV, an aggregate, the
// model's evaluation with its ROC chart; another institution's job not found; a form
// without its token refused; the suspended institution's pages stopping at once.
// Every page is checked with axe-core and kept as a screenshot in $SCREENSHOTS.
//
// FIXTURE: base_url, password, username (the institution's user), institution (its
// name), scored (the SQL), foreign_job (another institution's job id), admin_token,
// institution_id, loans_csv, model_wat, not_a_model (files to upload), admin (the
// administrator's username).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture, base, newPage, check } from './harness.mjs';

/** A refused upload answers its form with the fault (422) to htmx's request, which
 * the browser logs as a failed load: expected, and nothing else is forgiven. */
function forgiveRefusal(page, status) {
  page.errors = page.errors.filter((e) => e !== `Failed to load resource: the server responded with a status of ${status} (Unprocessable Entity)`);
}

async function logInAs(page, username, landing) {
  await page.goto(`${base}/login`);
  await page.getByLabel('登录名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(landing);
  return page;
}

async function logIn(page) {
  await page.goto(`${base}/login`);
  await page.getByLabel('登录名').fill(fixture.username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(/\/workspace$/);
  return page;
}

test('an institution works from its workspace: tables, a job watched to its end, a sample, an aggregate, an evaluation (P4, P5, P8)', async () => {
  const page = await logIn(await newPage());
  // The dashboard: the institution, its quotas as gauges with when each resets.
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), fixture.institution);
  assert.equal(await page.locator('meter').count(), 7);
  assert.match(await page.locator('ul.gauges').innerText(), /剩余/);
  assert.match(await page.locator('ul.gauges').innerText(), /尚未使用/);
  assert.match(await page.locator('ul.gauges').innerText(), /作业结束即释放/);
  await check(page, 'workspace-dashboard');

  // Its loans, uploaded as CSV: a name SQL cannot use is refused on the field first.
  const nav = page.getByRole('navigation', { name: '工作台' });
  await nav.getByRole('link', { name: '自有数据' }).click();
  await page.waitForURL(/\/workspace\/data$/);
  await page.getByLabel(/^表名/).fill('Loans 2026');
  await page.getByLabel(/^文件/).setInputFiles(fixture.loans_csv);
  await page.getByRole('button', { name: '上传并校验' }).click();
  await page.locator('#name-error').waitFor();
  assert.equal(await page.getByLabel(/^表名/).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel(/^表名/).inputValue(), 'Loans 2026', 'what was typed is kept');
  forgiveRefusal(page, 422);
  await check(page, 'workspace-upload-refused');
  await page.getByLabel(/^表名/).fill('loans');
  await page.getByLabel(/^敏感列/).fill('loan_id:masked');
  await page.getByLabel(/^文件/).setInputFiles(fixture.loans_csv);
  await page.evaluate(() => {
    window.uploadProgress = [];
    document.addEventListener('htmx:xhr:progress', () => {
      const bar = document.querySelector('progress[data-upload-progress]');
      window.uploadProgress.push({ shown: !bar.hidden, value: bar.value, max: bar.max });
    });
  });
  await page.getByRole('button', { name: '上传并校验' }).click();
  await page.getByRole('heading', { name: /^校验报告/ }).waitFor();
  const progress = await page.evaluate(() => window.uploadProgress);
  assert.ok(progress.length > 0 && progress.every((p) => p.shown), JSON.stringify(progress));
  assert.equal(progress.at(-1).value, progress.at(-1).max, 'the bar reached its end');
  const report = await page.locator('main').innerText();
  assert.match(report, /读取 \d+ 行、8 列/);
  await check(page, 'workspace-data');

  // Its columns tagged, its sharing refused with the reason beside the table, its
  // deletion asked to be confirmed: each form changes what it says, or nothing.
  const table = page.locator('section.panel', { has: page.getByRole('heading', { name: 'loans', exact: true }) });
  await table.getByLabel('interest_rate 的敏感级别').selectOption('masked');
  await table.getByRole('button', { name: '保存敏感级别' }).click();
  await page.waitForURL(/\/workspace\/data#tables$/);
  assert.equal(await table.getByLabel('interest_rate 的敏感级别').inputValue(), 'masked');
  await table.getByLabel('共享范围').selectOption('institutions');
  await table.getByLabel(/^指定机构/).fill('no-such-institution');
  await table.getByRole('button', { name: '保存共享设置' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  assert.ok((await table.getByRole('alert').innerText()).length > 0);
  assert.match(await table.locator('p.hint').first().innerText(), /仅本机构/, 'nothing shared');
  await table.getByRole('button', { name: '删除' }).click();
  await page.waitForLoadState();
  assert.match(await table.getByRole('alert').innerText(), /确认删除/);
  assert.ok(await table.isVisible(), 'not deleted without the box ticked');
  await check(page, 'workspace-data-refusals');

  // The model: a file that is no model is refused with the sandbox's reason; the
  // example model's text is taken, with its signature.
  await nav.getByRole('link', { name: '模型' }).click();
  await page.waitForURL(/\/workspace\/models$/);
  await page.getByLabel(/^模型文件/).setInputFiles(fixture.not_a_model);
  await page.getByRole('button', { name: '上传并检查' }).click();
  await page.locator('#file-error').waitFor();
  assert.match(await page.locator('#file-error').innerText(), /model refused|模型/);
  forgiveRefusal(page, 422);
  await check(page, 'workspace-model-refused');
  await page.getByLabel(/^模型文件/).setInputFiles(fixture.model_wat);
  await page.getByRole('button', { name: '上传并检查' }).click();
  await page.getByText(/已上传模型 linear_score/).waitFor();
  assert.match(await page.locator('table.models').innerText(), /linear_score\(/);
  await check(page, 'workspace-models');

  // The tables its SQL may read, granted and own, with Chinese labels and sensitivity.
  await nav.getByRole('link', { name: '数据表' }).click();
  await page.waitForURL(/\/workspace\/tables$/);
  const tables = await page.locator('main').innerText();
  for (const name of ['enterprises', 'admin_penalties', 'loans']) assert.ok(tables.includes(name), name);
  assert.match(tables, /脱敏/);
  await check(page, 'workspace-tables');

  // SQL that cannot run comes back in the editor with the line and column.
  await nav.getByRole('link', { name: '作业' }).click();
  await page.waitForURL(/\/workspace\/jobs$/);
  assert.match(await page.locator('aside').innerText(), /linear_score/);
  await page.getByLabel(/^SQL/).fill('SELECT loan_id,\n       no_such_column\nFROM loans');
  await page.getByRole('button', { name: '提交作业' }).click();
  await page.waitForURL(/\/workspace\/jobs$/);
  assert.equal(page.status, 422);
  assert.equal(await page.getByLabel(/^SQL/).getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#sql-error').innerText(), /第 2 行第 \d+ 列/);
  assert.match(await page.locator('pre.sql-at').innerText(), /no_such_column/);
  assert.match(await page.getByLabel(/^SQL/).inputValue(), /no_such_column/, 'the SQL is kept');
  await check(page, 'workspace-sql-refused');

  // The join-and-score job, watched until it has finished (htmx polls its status, and
  // the page reloads whole when it ends).
  await page.getByLabel(/^SQL/).fill(fixture.scored);
  await page.getByRole('button', { name: '提交作业' }).click();
  await page.waitForURL(/\/workspace\/jobs\/[^/]+$/);
  const jobUrl = page.url();
  await page.getByRole('heading', { name: '资源报告' }).waitFor({ timeout: 120_000 });
  assert.match(await page.locator('#job-status').innerText(), /已完成/);
  assert.match(await page.locator('main').innerText(), /结果行数/);
  await check(page, 'workspace-job-succeeded');

  // A sample, shown as a table with the budget it used.
  await page.getByRole('button', { name: '抽取样本' }).click();
  await page.waitForURL(/\/sample#sample-title$/);
  assert.equal(page.status, 201);
  assert.ok((await page.locator('table.sample tbody tr').count()) > 0);
  assert.match(await page.locator('#sample-title ~ .notice').innerText(), /24 小时内已抽/);
  await check(page, 'workspace-sample');

  // Downloaded as CSV: the same sample, not counted again.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '下载 CSV' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^sample-.*\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv.split('\n')[0], /loan_id/);

  // An aggregate: subjects and the sum of the amount by the outcome.
  await page.goto(jobUrl);
  await page.getByRole('checkbox', { name: '按 bad 分组' }).check();
  await page.getByRole('checkbox', { name: '合计 amount' }).check();
  await page.getByRole('button', { name: '发布汇总' }).click();
  await page.waitForURL(/\/aggregate#aggregate-title$/);
  assert.equal(page.status, 201);
  const aggregate = await page.locator('table.aggregate').innerText();
  assert.match(aggregate, /主体数/);
  assert.match(aggregate, /amount 合计/);
  assert.ok(await page.getByRole('checkbox', { name: '按 bad 分组' }).isChecked(), 'the form is kept');
  await check(page, 'workspace-aggregate');

  // A score evaluated against itself is refused, said in Chinese beside the form.
  await page.getByLabel(/^评分列/).selectOption('bad');
  await page.getByLabel(/^结果列/).selectOption('bad');
  await page.getByRole('button', { name: '发布评估' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('main').innerText(), /评分列和结果列是同一列/);

  // The model's evaluation, with its ROC curve drawn on the server.
  await page.getByLabel(/^评分列/).selectOption('risk');
  await page.getByLabel(/^结果列/).selectOption('bad');
  await page.getByRole('button', { name: '发布评估' }).click();
  await page.waitForURL(/\/evaluation#evaluation-title$/);
  assert.equal(page.status, 201);
  const points = await page.locator('svg.roc polyline').getAttribute('points');
  assert.equal(points.split(' ').length, 11, points);
  assert.equal(await page.locator('svg.deciles rect').count(), 10);
  assert.match(await page.locator('table.metrics').innerText(), /AUC\s+0\.\d{3}/);
  await check(page, 'workspace-evaluation');

  // The progress reports: the schedule and the form; an empty report is refused with
  // each field named.
  await page.getByRole('navigation', { name: '工作台' }).getByRole('link', { name: '进度报告' }).click();
  await page.waitForURL(/\/workspace\/reports$/);
  assert.match(await page.locator('main').innerText(), /进行中|待提交/);
  await page.getByRole('button', { name: '提交报告' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  assert.ok((await page.locator('[aria-invalid="true"], [role="alert"]').count()) > 0);
  assert.match(await page.locator('main').innerText(), /请填写进展情况（没有的写“无”）。/);
  await check(page, 'workspace-reports');
});

test("another institution's job is not found, and changing the address shows nothing of it", async () => {
  const page = await logIn(await newPage());
  await page.goto(`${base}/workspace/jobs/${fixture.foreign_job}`);
  assert.equal(page.status, 404);
  assert.ok(!(await page.locator('main').innerText()).includes('SELECT'));
  await check(page, 'workspace-foreign-job');
});

test('every workspace form refuses a post without its token', async () => {
  const page = await logIn(await newPage());
  const statuses = await page.evaluate(async (job) => {
    const out = [];
    for (const path of ['/workspace/data/x/sharing', '/workspace/data/x/sensitivity', '/workspace/data/x/delete', '/workspace/models/x/delete', '/workspace/jobs', `/workspace/jobs/${job}/sample`, `/workspace/jobs/${job}/aggregate`, `/workspace/jobs/${job}/evaluation`, `/workspace/jobs/${job}/cancel`]) {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'sql=SELECT%201&format=csv&score=risk&label=bad' });
      out.push(r.status);
    }
    return out;
  }, fixture.foreign_job);
  assert.deepEqual(statuses, Array(9).fill(403));
  // The uploads too: a multipart form without its token keeps nothing.
  const uploads = await page.evaluate(async () => {
    const out = [];
    for (const path of ['/workspace/data', '/workspace/models']) {
      const body = new FormData();
      body.append('name', 'sneaked');
      body.append('file', new Blob(['a,b\n1,2\n']), 'sneaked.csv');
      out.push((await fetch(path, { method: 'POST', body })).status);
    }
    return out;
  });
  assert.deepEqual(uploads, [403, 403]);
});

test('the administrator suspends the institution from the console: its open page stops at once, and it sees why and its deadline (P7)', async () => {
  const page = await logIn(await newPage());
  await page.getByRole('navigation', { name: '工作台' }).getByRole('link', { name: '作业' }).click();
  await page.waitForURL(/\/workspace\/jobs$/);

  const admin = await logInAs(await newPage(), fixture.admin, /\/console$/);
  await admin.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '机构' }).click();
  await admin.waitForURL(/\/console\/institutions$/);
  await check(admin, 'console-institutions');
  await admin.getByRole('link', { name: fixture.institution }).click();
  await admin.waitForURL(/\/console\/institutions\/[^/?]+$/);
  assert.equal(await admin.locator('meter').count(), 7, 'its usage');
  await check(admin, 'console-institution');
  // Not without the box ticked.
  await admin.getByLabel('暂停原因').fill('未按期提交进度报告');
  await admin.getByLabel('整改期限').fill('2027-01-15');
  await admin.getByRole('button', { name: '暂停账户' }).click();
  await admin.waitForLoadState();
  assert.match(await admin.locator('#suspend-title ~ [role="alert"]').innerText(), /确认/);
  await admin.getByLabel('暂停原因').fill('未按期提交进度报告');
  await admin.getByLabel('整改期限').fill('2027-01-15');
  await admin.getByRole('checkbox', { name: /确认暂停/ }).check();
  await admin.getByRole('button', { name: '暂停账户' }).click();
  await admin.waitForURL(/\?done=suspended$/);
  assert.match(await admin.locator('main').innerText(), /已暂停/);

  // The institution's open page: its next step is refused.
  await page.getByLabel(/^SQL/).fill('SELECT 1');
  await page.getByRole('button', { name: '提交作业' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 403);
  // The dashboard says why, and by when, and nothing else.
  await page.goto(`${base}/workspace`);
  const text = await page.locator('main').innerText();
  assert.match(text, /已暂停/);
  assert.match(text, /未按期提交进度报告/);
  assert.match(text, /2027年01月15日/);
  assert.equal(await page.locator('meter').count(), 0, 'nothing else');
  await check(page, 'workspace-suspended');

  // Reinstated, then terminated once its name is typed: the deletion record shown.
  await admin.getByLabel(/^恢复理由/).fill('已补交进度报告');
  await admin.getByRole('button', { name: '恢复账户' }).click();
  await admin.waitForURL(/\?done=reinstated$/);
  await page.goto(`${base}/workspace`);
  assert.equal(await page.locator('meter').count(), 7, 'working again');
  await admin.getByLabel('终止原因').fill('机构申请退出');
  await admin.getByLabel('输入机构全称以确认').fill('别的机构');
  await admin.getByRole('button', { name: '终止账户' }).click();
  await admin.waitForLoadState();
  assert.match(await admin.locator('#terminate-title ~ [role="alert"]').innerText(), /全称/);
  await admin.getByLabel('终止原因').fill('机构申请退出');
  await admin.getByLabel('输入机构全称以确认').fill(fixture.institution);
  await admin.getByRole('button', { name: '终止账户' }).click();
  await admin.waitForURL(/\?done=terminated$/);
  assert.ok((await admin.locator('#deleted-title ~ div table tbody tr').count()) > 0, 'the deletion record');
  await check(admin, 'console-institution-terminated');
});
