import { test, expect } from '@playwright/test';
import * as http from 'http';
import { MAIN_URL, OWNER } from '../playwright.config';
import { MESSAGE, createToken, openChat, signIn, watchConsole } from './helpers';

// The dashboard widget embedded in another site's page (another origin), through an embed
// token made in Settings → Tokens: it renders, goes live and follows new escalations.
test('the embedded widget on another origin shows the count and updates live', async ({ browser }) => {
  const admin = await (await browser.newContext()).newPage();
  const problems = watchConsole(admin);
  await admin.goto('/login?next=/app/settings/tokens');
  await signIn(admin, OWNER.email, OWNER.password);
  await expect(admin.getByRole('heading', { name: 'Tokens', exact: true })).toBeVisible();
  const tokenName = `Wallboard ${Date.now()}`;
  const token = await createToken(admin, 'Embed widget', tokenName);
  expect(token).toMatch(/^flr_embed_[0-9a-f]{64}$/);
  await expect(admin.getByRole('textbox', { name: 'How to use it' })).toHaveValue(/<iframe src="http:\/\/127\.0\.0\.1:3101\/embed\/widget\?token=flr_embed_/);

  // Another site: a real server on another origin (localhost:9999, not 127.0.0.1:3101).
  const partner = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>Partner</title><h1>Partner wallboard</h1>
             <iframe src="${MAIN_URL}/embed/widget?token=${token}" title="Open escalations" width="320" height="240"></iframe>`);
  });
  await new Promise<void>((resolve) => partner.listen(9999, 'localhost', resolve));
  const site = await (await browser.newContext()).newPage();
  const siteProblems = watchConsole(site, [403]); // the refused token at the end
  // Server-rendered and kept live by a few lines of JS: another site's page loads no wasm.
  const wasm: string[] = [];
  site.on('request', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(r.url());
  });
  await site.goto('http://localhost:9999/partner.html');
  const frame = site.frameLocator('iframe[title="Open escalations"]');
  await expect(frame.getByRole('heading', { name: 'Open escalations' })).toBeVisible();
  await expect(frame.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const count = frame.getByLabel('Open escalations count');
  const before = Number(await count.innerText());

  // A new escalation in the Support team: the widget follows without reload.
  const chat = await (await browser.newContext()).newPage();
  const chatProblems = watchConsole(chat);
  await openChat(chat, `Widget Agent ${Date.now()}`);
  await chat.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await chat.getByRole('button', { name: 'Send' }).click();
  await expect(chat.getByRole('article', { name: 'Escalation' })).toBeVisible();
  await expect(count).toHaveText(String(before + 1), { timeout: 5000 });
  await expect(frame.getByText(/Warning: \d+/)).toBeVisible();
  await expect(frame.getByText(/Overdue: \d+/)).toBeVisible();

  // Revoked in Settings: the embedded widget says so at once, instead of a stale count.
  await admin.getByRole('button', { name: `Revoke ${tokenName}` }).click();
  await expect(admin.getByRole('row', { name: new RegExp(tokenName) })).toContainText('Revoked');
  await expect(frame.getByRole('alert')).toContainText('revoked or mistyped', { timeout: 5000 });
  await expect(count).toHaveCount(0);
  expect(wasm).toEqual([]);
  expect(problems).toEqual([]);
  expect(siteProblems).toEqual([]);
  expect(chatProblems).toEqual([]);
  partner.close();
});
