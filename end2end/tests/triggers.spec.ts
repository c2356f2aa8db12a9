import { test, expect } from '@playwright/test';
import { createHmac } from 'crypto';
import { MAIN_URL } from '../playwright.config';
import { RULE, MESSAGE, createToken, hydrated, newAgent, watchConsole } from './helpers';

// Issue 13: an agent started by a webhook, not a chat. Add a webhook on the agent's Triggers
// page, sign and send a request from here, watch the escalation arrive live on the
// Escalations page with `trigger: webhook`, answer it there, and the API shows the run resumed.
test('a signed webhook escalates live on the Escalations page and the API shows the run resumed', async ({ browser }) => {
  const agent = `Hook Agent ${Date.now()}`;
  const admin = await (await browser.newContext()).newPage();
  // The preview refuses an expression that fires every second with a 400, on purpose.
  const problems = watchConsole(admin, [400]);
  await newAgent(admin, agent);
  await admin.getByRole('textbox', { name: 'Description' }).fill(RULE);
  await expect(admin.getByRole('status')).toHaveText('Saved');

  await admin.getByRole('link', { name: 'Triggers', exact: true }).click();
  await expect(admin.getByRole('heading', { name: 'Triggers', exact: true })).toBeVisible();
  await hydrated(admin);
  await admin.getByLabel('Webhook name').fill('Zendesk');
  await admin.getByRole('button', { name: 'Add webhook' }).click();
  const url = await admin.getByRole('textbox', { name: 'Webhook URL' }).inputValue();
  const secret = await admin.getByRole('textbox', { name: 'Signing secret' }).inputValue();
  expect(url).toMatch(new RegExp(`^${MAIN_URL}/hooks/[0-9a-f-]{36}$`));
  expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
  await expect(admin.getByRole('textbox', { name: 'How to send it a request' })).toHaveValue(/openssl dgst -sha256 -hmac/);
  const row = admin.getByRole('row', { name: /Zendesk/ });
  await expect(row).toContainText('Active');

  // A schedule's next firings follow the expression as it is typed; a bad one is refused.
  const next = admin.getByLabel('Next firings');
  await expect(next.getByRole('listitem')).toHaveCount(3);
  await admin.getByLabel('Cron expression').fill('* * * * * *');
  await expect(next).toContainText('at most once a minute');
  await admin.getByLabel('Cron expression').fill('30 7 * * SUN');
  await admin.getByLabel('Time zone').fill('Asia/Tokyo');
  await expect(next.getByRole('listitem')).toHaveCount(3);
  await expect(next.getByRole('listitem').first()).toContainText(/^Sun \d{4}-\d\d-\d\d 07:30 JST$/);

  // An API token to read the run with afterwards.
  const token = await createToken(admin, 'API (read)', `Reader ${Date.now()}`);
  expect(token).toMatch(/^flr_api_[0-9a-f]{64}$/);

  await admin.goto('/app/escalations');
  await expect(admin.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  await hydrated(admin);

  const body = JSON.stringify({ message: MESSAGE, ticket: 1234 });
  const ts = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  const sent = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-flare-timestamp': String(ts), 'x-flare-signature': `sha256=${signature}` },
    body,
  });
  expect(sent.status).toBe(202);
  const { run_id: run } = await sent.json();

  // Live, without reload, with its trigger; "Open thread" leads to the card.
  const esc = admin.getByRole('row', { name: new RegExp(agent) });
  await expect(esc).toBeVisible({ timeout: 5000 });
  await expect(esc).toContainText('trigger: webhook');
  const thread = await esc.getByRole('link', { name: 'Open thread' }).getAttribute('href');
  const api = async () =>
    (await fetch(`${MAIN_URL}/api/v1/runs/${run}`, { headers: { authorization: `Bearer ${token}` } })).json();
  expect((await api()).status).toBe('waiting');
  expect((await api()).thread_id).toBe(thread!.split('/').pop());

  await esc.getByRole('button', { name: 'Dismiss' }).click();
  await expect(esc).toHaveCount(0);
  await expect.poll(async () => (await api()).status, { timeout: 5000 }).toBe('completed');
  expect((await api()).reply).toContain('proceeding on my own');

  const card = await (await browser.newContext({ storageState: await admin.context().storageState() })).newPage();
  await card.goto(thread!);
  await expect(card.getByRole('heading', { name: 'Webhook: Zendesk' })).toBeVisible();
  await expect(card.getByRole('article', { name: 'Escalation' })).toContainText('Dismissed by');
  expect(problems).toEqual([]);
});
