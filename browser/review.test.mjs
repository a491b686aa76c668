// Reviewers and an institution in a real browser (issue 19, BRIEF P3, P8, P9), against
// the server creditpool/tests/server/workspace.rs started with an institution whose
// scored job has a released sample, and an application under review by three experts:
// the institution registers its product from the job (every field at fault named at
// once first); the administrator assigns the experts (one with a conflict of interest
// refused with the reason); each expert finds the application and the product in one list, reads the
// criteria's evidence and the institution's management record, and scores them, blind
// to the others until the decision; an expert declares a conflict of interest; after
// the decisions (the application approved and its account opened in a batch, the
// product recommended) the product is on the public products page.
//
// FIXTURE: base_url, password, username (the institution's user), institution_id,
// job, admin_token, admin (its username), conflicted {username, id}, application_id, applicant (the applicant's name), reviewers
// [{username, id}] × 3, unrelated_uscc (an enterprise neither of them), objection (the
// number of one filed by the public), ticket (the number of a complaint), letter {name,
// uscc, record_id} (an enterprise and a record of it, objected to by letter).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, base, newPage, check } from './harness.mjs';

async function logIn(page, username, landing) {
  await page.goto(`${base}/login`);
  await page.getByLabel('登录名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill(fixture.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(landing);
  return page;
}

async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${fixture.admin_token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const PRODUCT = '小微企业贷前风险分';
// The first expert's signed-in page, kept for the end: logins from one address are
// limited to a few a minute, and this file signs in six people.
let firstExpert;

test('the institution registers its product from a job, every field at fault named at once (P8)', async () => {
  const page = await logIn(await newPage(), fixture.username, /\/workspace$/);
  await page.getByRole('navigation', { name: '工作台' }).getByRole('link', { name: '产品' }).click();
  await page.waitForURL(/\/workspace\/products$/);
  await page.getByRole('button', { name: '登记产品' }).click();
  await page.waitForURL(/\/workspace\/products$/);
  assert.equal(page.status, 422);
  const invalid = await page.locator('[aria-invalid="true"]').count();
  assert.ok(invalid >= 6, `every empty field named at once: ${invalid}`);
  const said = await page.locator('.field-error').allTextContents();
  assert.ok(said.includes('请填写产品名称。'), said.join(' | '));
  assert.ok(said.every((line) => !/[a-z]{4,}/.test(line)), said.join(' | '));
  await check(page, 'products-refused');

  await page.getByLabel('产品名称').fill(PRODUCT);
  await page.getByLabel('联系人').fill('王敏');
  await page.getByLabel('联系电话').fill('13812345678');
  await page.getByLabel(/^作业/).selectOption(fixture.job);
  await page.getByLabel('使用的数据').fill('本机构贷款表现数据，公共信用信息中的行政处罚、经营异常名录和登记信息');
  await page.getByLabel('模型说明').fill('线性评分卡（WebAssembly 模型 linear_score）');
  await page.getByLabel('产品说明').fill('借款企业风险分，分值越高风险越大');
  await page.getByLabel('应用场景').fill('普惠小微贷款的贷前审批');
  await page.getByRole('button', { name: '登记产品' }).click();
  await page.waitForURL(/\/workspace\/products\?registered=1$/);
  const text = await page.locator('main').innerText();
  assert.ok(text.includes(PRODUCT));
  assert.match(text, /已登记，待分配评审/);
  await check(page, 'products');
});

test('the administrator assigns three experts to the product; one who belongs to the institution is refused with the reason (P3)', async () => {
  const page = await logIn(await newPage(), fixture.admin, /\/console$/);
  await check(page, 'console-home');
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '信用产品' }).click();
  await page.waitForURL(/\/console\/products$/);
  await check(page, 'console-products');
  await page.getByRole('link', { name: PRODUCT }).click();
  await page.waitForURL(/\/console\/products\/[^/?]+$/);
  for (const r of [...fixture.reviewers, fixture.conflicted]) {
    await page.getByRole('checkbox', { name: new RegExp(`^分配 .*${r.username.replaceAll('.', '\\.')}`) }).check();
  }
  await page.getByRole('button', { name: '分配勾选的专家' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  const refusal = await page.locator('#assign-title ~ [role="alert"]').innerText();
  assert.match(refusal, new RegExp(`${fixture.conflicted.username.replaceAll('.', '\\.')}.*利益冲突`));
  assert.match(await page.locator('main').innerText(), /已登记，待分配评审/, 'nothing assigned');
  await check(page, 'console-assign-refused');
  for (const r of fixture.reviewers) {
    await page.getByRole('checkbox', { name: new RegExp(`^分配 .*${r.username.replaceAll('.', '\\.')}`) }).check();
  }
  await page.getByRole('button', { name: '分配勾选的专家' }).click();
  await page.waitForURL(/\?done=assigned$/);
  assert.match(await page.locator('main').innerText(), /评审中/);
  await check(page, 'console-product');
});

test('experts review the application and the product from their pages, blind to each other until the decision (P3, P9)', async () => {
  const listed = await api('GET', `/api/v1/institutions/${fixture.institution_id}/products`);
  const product = listed.items.find((p) => p.form.product_name === PRODUCT);
  assert.equal(product.status, 'under_review');

  for (const [i, reviewer] of fixture.reviewers.entries()) {
    const page = await logIn(await newPage(), reviewer.username, /\/review$/);
    const pending = page.locator('section', { has: page.getByRole('heading', { name: /^待评审/ }) });
    assert.ok((await pending.innerText()).includes(fixture.applicant));
    assert.ok((await pending.innerText()).includes(PRODUCT));
    if (i === 0) await check(page, 'review-assignments');

    // The application: the criteria with the records each used, then the scores.
    await pending.getByRole('link', { name: fixture.applicant }).click();
    await page.waitForURL(/\/review\/applications\//);
    assert.equal(await page.locator('div.criterion').count(), 4);
    assert.match(await page.locator('#criteria-title ~ div.criterion').first().innerText(), /核验所用记录/);
    if (i === 1) {
      // Blind: one review is in, whose it is and what it says are not shown.
      assert.match(await page.locator('#reviews-title').innerText(), /已收到 1 份/);
      assert.ok(!(await page.locator('main').innerText()).includes('材料齐全（专家 1）'));
    }
    if (i === 0) {
      await page.getByLabel(/^合规性/).fill('101');
      await page.getByLabel(/^创新性/).fill('75');
      await page.getByLabel(/^发展前景/).fill('80');
      await page.getByLabel('评审意见', { exact: true }).fill(`材料齐全（专家 ${i + 1}）`);
      await page.getByRole('button', { name: '提交评审意见' }).click();
      await page.waitForLoadState();
      assert.equal(page.status, 422);
      assert.equal(await page.getByLabel(/^合规性/).getAttribute('aria-invalid'), 'true');
      assert.equal(await page.getByLabel('评审意见', { exact: true }).inputValue(), `材料齐全（专家 ${i + 1}）`, 'kept');
      await check(page, 'review-application-refused');
    }
    await page.getByLabel(/^合规性/).fill('90');
    await page.getByLabel(/^创新性/).fill('75');
    await page.getByLabel(/^发展前景/).fill('80');
    await page.getByLabel('评审意见', { exact: true }).fill(`材料齐全（专家 ${i + 1}）`);
    await page.getByRole('button', { name: '提交评审意见' }).click();
    await page.waitForURL(/\?saved=1$/);
    assert.match(await page.locator('#reviews-title ~ .review').innerText(), new RegExp(`专家 ${i + 1}`));
    if (i === 0) await check(page, 'review-application');

    // The product: the registration and the institution's management record.
    await page.goto(`${base}/review`);
    await page.getByRole('link', { name: PRODUCT }).click();
    await page.waitForURL(/\/review\/products\//);
    assert.match(await page.locator('main').innerText(), /机构日常管理记录/);
    await page.getByLabel(/^市场需求/).fill('85');
    await page.getByLabel(/^创新性/).fill('70');
    await page.getByLabel(/^机构管理/).fill('90');
    await page.getByLabel('推荐', { exact: true }).check();
    await page.getByLabel('评审意见', { exact: true }).fill(`模型稳健，建议推荐（专家 ${i + 1}）`);
    await page.getByRole('button', { name: '提交评审意见' }).click();
    await page.waitForURL(/\?saved=1$/);
    if (i === 0) await check(page, 'review-product');
    if (i === 0) firstExpert = page;
    else await page.context().close();
  }
});

test('an expert declares a conflict of interest on the settings page', async () => {
  const page = await logIn(await newPage(), fixture.reviewers[2].username, /\/review$/);
  await page.getByRole('navigation', { name: '评审' }).getByRole('link', { name: '利益冲突申报' }).click();
  await page.getByLabel(/^统一社会信用代码/).fill('not-a-code');
  await page.getByRole('button', { name: '保存申报' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.equal(await page.getByLabel(/^统一社会信用代码/).getAttribute('aria-invalid'), 'true');
  await check(page, 'review-affiliations-refused');
  await page.getByLabel(/^统一社会信用代码/).fill(fixture.unrelated_uscc);
  await page.getByRole('button', { name: '保存申报' }).click();
  await page.waitForURL(/\?saved=1$/);
  assert.match(await page.locator('main').innerText(), new RegExp(fixture.unrelated_uscc));
  await check(page, 'review-affiliations');
});

// The administrator's, kept likewise.
let adminPage;

test('the administrator approves the application and opens its account, and recommends the product (P3, P8)', async () => {
  const page = await logIn(await newPage(), fixture.admin, /\/console$/);
  adminPage = page;
  await page.goto(`${base}/console/applications?show=under_review`);
  await page.getByRole('link', { name: fixture.applicant }).click();
  await page.waitForURL(/\/console\/applications\/[^/?]+$/);
  assert.equal(await page.locator('#reviews-title ~ .review').count(), 3, 'the reviews side by side');
  await page.getByRole('button', { name: '记录决定' }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('#decide-title ~ [role="alert"]').innerText(), /决定/);
  await page.getByLabel('批准', { exact: true }).check();
  await page.getByLabel('理由').fill('三位专家一致同意');
  await page.getByRole('button', { name: '记录决定' }).click();
  await page.waitForURL(/\?done=decided$/);
  await check(page, 'console-application-decided');

  // Opening accounts in one action: a batch of none is refused; the approved one opens.
  await page.goto(`${base}/console/applications?show=approved`);
  await page.getByRole('button', { name: '为勾选的申请开户' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  await page.getByRole('checkbox', { name: `为 ${fixture.applicant} 开户` }).check();
  await page.getByRole('button', { name: '为勾选的申请开户' }).click();
  await page.waitForURL(/opened=1$/);
  assert.match(await page.locator('[role="status"]').innerText(), /已为 1 个申请开户/);
  await check(page, 'console-opened');

  await page.goto(`${base}/console/products`);
  await page.getByRole('link', { name: PRODUCT }).click();
  await page.getByLabel('推荐', { exact: true }).check();
  await page.getByLabel('理由').fill('三位专家一致推荐');
  await page.getByRole('button', { name: '记录决定' }).click();
  await page.waitForURL(/\?done=decided$/);
  assert.match(await page.locator('main').innerText(), /已推荐/);

  // The quality view: each figure drawn against the standard's target.
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '服务质量' }).click();
  await page.waitForURL(/\/console\/quality$/);
  assert.equal(await page.locator('svg.against').count(), 6);
  assert.match(await page.locator('main').innerText(), /目标 3000 毫秒/);
  await check(page, 'console-quality');

  // Staff accounts: a weak password refused on its field, then a reviewer created,
  // then disabled with a reason (a reason too short refused beside the account).
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '用户' }).click();
  await page.waitForURL(/\/console\/users$/);
  await page.getByLabel('登录名').fill('browser.newexpert');
  await page.getByLabel('姓名').fill('新专家');
  await page.getByLabel(/^初始密码/).fill('short');
  await page.getByLabel('角色').selectOption('reviewer');
  await page.getByRole('button', { name: '创建账号' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  assert.equal(await page.getByLabel('登录名').inputValue(), 'browser.newexpert', 'kept');
  assert.ok((await page.locator('[aria-invalid="true"], [role="alert"]').count()) > 0);
  await page.getByLabel(/^初始密码/).fill(fixture.password);
  await page.getByRole('button', { name: '创建账号' }).click();
  await page.waitForURL(/done=created$/);
  const row = page.locator('tr', { hasText: 'browser.newexpert' });
  await row.getByRole('textbox').fill('短');
  await row.getByRole('button', { name: '执行' }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('tr', { hasText: 'browser.newexpert' }).getByRole('alert').innerText(), /理由/);
  await page.locator('tr', { hasText: 'browser.newexpert' }).getByRole('textbox').fill('测试账号，不再使用');
  await page.locator('tr', { hasText: 'browser.newexpert' }).getByRole('button', { name: '执行' }).click();
  await page.waitForURL(/done=administered$/);
  assert.match(await page.locator('tr', { hasText: 'browser.newexpert' }).innerText(), /已停用/);
  await check(page, 'console-users');

  // The objection ledger: a received objection, returned without a reason refused,
  // then accepted (its record marked, dispatched to its source unit).
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '异议台账' }).click();
  await page.waitForURL(/\/console\/objections$/);
  const filed = page.locator('section.panel', { has: page.getByRole('heading', { name: new RegExp(fixture.objection) }) });
  await filed.getByRole('radio', { name: /^退回/ }).check();
  await filed.getByRole('button', { name: '提交决定' }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  await check(page, 'console-objection-refused');
  await page.locator('section.panel', { has: page.getByRole('heading', { name: new RegExp(fixture.objection) }) }).getByRole('radio', { name: /^受理：/ }).check();
  await page.locator('section.panel', { has: page.getByRole('heading', { name: new RegExp(fixture.objection) }) }).getByRole('button', { name: '提交决定' }).click();
  await page.waitForURL(/opened=accepted$/);
  await page.goto(`${base}/console/objections?show=open`);
  assert.ok((await page.locator('main').innerText()).includes(fixture.objection));
  await check(page, 'console-objections');

  // Consultations and complaints: an empty answer refused, then the complaint answered.
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '咨询投诉' }).click();
  await page.waitForURL(/\/console\/tickets$/);
  const complaint = () => page.locator('section.panel', { has: page.getByRole('heading', { name: new RegExp(fixture.ticket) }) });
  await complaint().getByRole('button', { name: '答复', exact: true }).click();
  await page.waitForLoadState();
  assert.ok(page.status >= 400 && page.status < 500, String(page.status));
  assert.ok((await complaint().getByRole('alert').innerText()).length > 0);
  await complaint().getByLabel('答复', { exact: true }).fill('经核实，该记录已与您解除关联，请重新查询。');
  await complaint().getByRole('button', { name: '答复', exact: true }).click();
  await page.waitForURL(/opened=answered$/);
  assert.match(await complaint().innerText(), /已与您解除关联/);
  await check(page, 'console-tickets');

  // A complaint received by telephone, recorded: without its content refused beside the
  // field, then recorded; its deadline counts from now.
  await page.getByText('登记电话或来信收到的咨询投诉').click();
  await page.getByLabel('提出人').fill('李四');
  await page.getByLabel('联系方式').fill('13900001111');
  await page.getByRole('button', { name: '登记' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.ok((await page.locator('#record-content-error').innerText()).length > 0);
  assert.equal(await page.getByLabel('提出人').inputValue(), '李四', 'kept');
  await page.getByLabel('内容', { exact: true }).fill('来电反映查询页面上企业地址有误，请核实。');
  await page.getByRole('button', { name: '登记' }).click();
  await page.waitForURL(/opened=recorded/);
  assert.ok((await page.locator('main').innerText()).includes('李四 · 13900001111'));

  // An objection received by letter, recorded signed in: accepted at once (the
  // provider's check done), the record marked.
  await page.goto(`${base}/console/objections`);
  await page.getByRole('link', { name: '登记来信或窗口收到的异议' }).click();
  await page.waitForURL(/\/objections\/new/);
  await page.getByLabel('记录编号').fill(fixture.letter.record_id);
  await page.getByLabel(/^申请人名称/).fill(fixture.letter.name);
  await page.getByLabel(/^统一社会信用代码或身份证号码/).fill(fixture.letter.uscc);
  await page.getByLabel('联系电话').fill('0571-87654321');
  await page.getByLabel(/^异议内容/).fill('来信称该处罚决定已被复议撤销，请核实后更正。');
  await page.getByRole('button', { name: /提交/ }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 201);
  assert.match(await page.locator('[role="status"]').innerText(), /异议已受理/);
});

test('once recommended, the product is on the public page and every review is shown', async () => {
  const listed = await api('GET', `/api/v1/institutions/${fixture.institution_id}/products`);
  const product = listed.items.find((p) => p.form.product_name === PRODUCT);
  const page = await newPage();
  await page.goto(`${base}/products`);
  assert.ok((await page.locator('main').innerText()).includes(PRODUCT));
  const expert = firstExpert;
  await expert.goto(`${base}/review/products/${product.id}`);
  assert.equal(await expert.locator('#reviews-title ~ .review').count(), 3);
  await check(expert, 'review-product-decided');
});

test('the administrator changes the institution\'s quotas and records a re-evaluation from its measured usage (P7)', async () => {
  const page = adminPage;
  await page.goto(`${base}/console/institutions/${fixture.institution_id}`);
  // Its latest jobs with their SQL and exact figures, its models, its reporting schedule
  // (P6), and its own ledger of releases one click away.
  assert.ok((await page.locator('#jobs-title ~ div table.jobs tbody tr').count()) >= 1);
  assert.match(await page.locator('#jobs-title ~ div table.jobs').innerText(), /结果 \d+ 行/);
  assert.ok((await page.locator('#models-title ~ div table tbody tr').count()) >= 1, 'its scoring model');
  assert.match(await page.locator('#schedule-title').innerText(), /报告期/);
  await page.getByRole('link', { name: '该机构的发布台账' }).click();
  await page.waitForURL(/\/console\/releases\?institution=/);
  const own = await page.locator('table.releases tbody tr').count();
  assert.ok(own >= 1, 'the institution released a sample');
  assert.equal((await page.locator('table.releases').innerText()).match(/抽样/g)?.length ?? 0, own);
  await page.goto(`${base}/console/institutions/${fixture.institution_id}`);
  const before = (await api('GET', `/api/v1/institutions/${fixture.institution_id}`)).quotas;

  // Every quota at fault named at once beside its input, what was typed kept, nothing changed.
  await page.getByRole('textbox', { name: /^24 小时内抽样行数/ }).fill('1000000');
  await page.getByRole('textbox', { name: /^每日作业运行时间/ }).fill('两小时');
  await page.getByRole('button', { name: '保存配额' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#quota-sampled_rows_per_day-error').innerText(), /0 至 10000/);
  assert.match(await page.locator('#quota-job_seconds_per_day-error').innerText(), /整数/);
  assert.match(await page.locator('#quota-reason-error').innerText(), /原因/);
  assert.equal(await page.getByRole('textbox', { name: /^每日作业运行时间/ }).inputValue(), '两小时');
  await check(page, 'console-quotas-refused');
  assert.deepEqual((await api('GET', `/api/v1/institutions/${fixture.institution_id}`)).quotas, before);

  await page.getByRole('textbox', { name: /^24 小时内抽样行数/ }).fill('2000');
  await page.getByRole('textbox', { name: /^每日作业运行时间/ }).fill('7,200');
  await page.getByLabel('修改理由').fill('第二个模型需要更大的样本，已经评审委员会同意');
  await page.getByRole('button', { name: '保存配额' }).click();
  await page.waitForURL(/done=quotas$/);
  const after = (await api('GET', `/api/v1/institutions/${fixture.institution_id}`)).quotas;
  assert.equal(after.sampled_rows_per_day, 2000);
  assert.equal(after.job_seconds_per_day, 7200);
  assert.equal(after.storage_bytes, before.storage_bytes, 'the others stay');
  assert.equal(await page.getByRole('textbox', { name: /^24 小时内抽样行数/ }).inputValue(), '2000');

  // A re-evaluation: the window's measures come from the platform's records; a
  // conclusion missing is refused beside it, then the evaluation is recorded.
  assert.match(await page.locator('#evaluations-title ~ table.facts').innerText(), /API 请求/);
  await page.getByLabel('评估意见').fill('按计划开展建模，未发现安全事件');
  await page.getByRole('button', { name: '记录再评估' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('fieldset[aria-invalid="true"]').innerText(), /请选择评估结论/);
  assert.equal(await page.getByLabel('评估意见').inputValue(), '按计划开展建模，未发现安全事件');
  await page.getByRole('radio', { name: '良好' }).check();
  await page.getByRole('button', { name: '记录再评估' }).click();
  await page.waitForURL(/done=evaluated$/);
  assert.match(await page.locator('article.evaluation').first().innerText(), /良好/);
  const evaluations = await api('GET', `/api/v1/institutions/${fixture.institution_id}/evaluations`);
  assert.equal(evaluations.items.length, 1);
  assert.equal(evaluations.items[0].conclusion, 'good');
  await check(page, 'console-institution-evaluated');

  // The working-day calendar: the year it lacks is named (in December, next year); a
  // notice without New Year's Day is refused beside its field, then the year is added.
  await page.getByRole('navigation', { name: '管理' }).getByRole('link', { name: '工作日历' }).click();
  await page.waitForURL(/\/console\/calendar$/);
  const missing = await page.getByRole('textbox', { name: '年份' }).inputValue();
  assert.match(await page.locator('[role="alert"]').innerText(), new RegExp(`还没有 ${missing} 年的数据`));
  await page.getByLabel(/^依据的通知/).fill(`国务院办公厅关于${missing}年部分节假日安排的通知（测试）`);
  await page.getByLabel(/^放假日/).fill(`${missing}-02-10 至 ${missing}-02-16`);
  await page.getByRole('button', { name: '添加这一年' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#holidays-error').innerText(), /元旦/);
  await check(page, 'console-calendar-refused');
  await page.getByLabel(/^放假日/).fill(`${missing}-01-01\n${missing}-02-10 至 ${missing}-02-16`);
  await page.getByRole('button', { name: '添加这一年' }).click();
  await page.waitForURL(/\/console\/calendar\?added=/);
  assert.match(await page.locator('[role="status"]').innerText(), new RegExp(`已添加 ${missing} 年`));
  assert.ok((await page.locator('table').innerText()).includes('管理员添加'));
  const listed = await fetch(`${base}/api/v1/calendar/years`).then((r) => r.json());
  assert.ok(listed.items.some((y) => String(y.year) === missing && y.holidays.length === 8));
  await check(page, 'console-calendar');

  // An API key for the metrics scraper, made on a page: its token (shown once) reads
  // /metrics; rotated, the old token stops and the new one works; revoked, it stops.
  const metrics = (token) => fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
  await page.goto(`${base}/me`);
  await page.getByRole('link', { name: 'API 密钥' }).click();
  await page.waitForURL(/\/me\/api-keys$/);
  await page.getByLabel(/^有效期/).fill('1000');
  await page.getByRole('button', { name: '生成密钥' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 422);
  assert.match(await page.locator('#name-error, #days-error').first().innerText(), /名称|有效期/);
  await page.getByLabel(/^用途/).fill('Prometheus 采集');
  await page.getByLabel(/^有效期/).fill('30');
  await page.getByRole('button', { name: '生成密钥' }).click();
  await page.waitForLoadState();
  assert.equal(page.status, 201);
  const first = await page.locator('#issued-token').innerText();
  assert.equal(await metrics(first), 200);
  await check(page, 'me-api-keys');
  await page.getByRole('button', { name: '轮换 Prometheus 采集' }).click();
  await page.waitForLoadState();
  const second = await page.locator('#issued-token').innerText();
  assert.notEqual(second, first);
  assert.equal(await metrics(first), 401, 'the rotated key stops at once');
  assert.equal(await metrics(second), 200);
  await page.getByRole('button', { name: '撤销 Prometheus 采集' }).click();
  await page.waitForURL(/revoked=1$/);
  assert.equal(await metrics(second), 401, 'the revoked key stops at once');
  assert.match(await page.locator('main').innerText(), /还没有 API 密钥/);
});
