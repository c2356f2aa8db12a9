import { test, expect } from '@playwright/test';
import { MESSAGE, hydrated, openChat, signIn, watchConsole } from './helpers';

// Two people of the Support team in two browsers: one chats, the other watches the
// Escalations page. A Sales member watches too and must see nothing of it.
test('a new escalation appears live for the team, is answered there, and the chat follows', async ({ browser }) => {
  const agent = `Live Support Agent ${Date.now()}`;
  const owner = await (await browser.newContext()).newPage();
  const support = await (await browser.newContext()).newPage();
  const sales = await (await browser.newContext()).newPage();
  const problems = [watchConsole(owner), watchConsole(support), watchConsole(sales)];

  await openChat(owner, agent);
  for (const [page, email] of [[support, 'support@example.com'], [sales, 'sales@example.com']] as const) {
    await page.goto('/login?next=/app/escalations');
    await signIn(page, email, 'flare-demo-password');
    await expect(page.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
    await hydrated(page);
  }

  await owner.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await owner.getByRole('button', { name: 'Send' }).click();
  await expect(owner.getByRole('article', { name: 'Escalation' })).toBeVisible();

  // Without reload, the row is there, with the tutorial's columns.
  const row = support.getByRole('row', { name: new RegExp(agent) });
  await expect(row).toBeVisible({ timeout: 5000 });
  await expect(row.getByRole('img', { name: 'Severity: warning' })).toBeVisible();
  await expect(row).toContainText('trigger: chat');
  await expect(row.getByRole('link', { name: 'Open thread' })).toHaveAttribute('href', new RegExp(`^/app/chat/`));
  await expect(support.getByRole('navigation', { name: 'Main' })).toContainText('open');

  await row.getByRole('button', { name: 'Dismiss' }).click();
  await expect(row).toHaveCount(0);
  // The chat's card follows, without reload.
  await expect(owner.getByRole('article', { name: 'Escalation' })).toContainText('Dismissed by');
  await expect(owner.getByRole('article', { name: /^Message from / }).last()).toContainText('proceeding on my own');

  // The other team saw nothing of it at any time.
  await expect(sales.getByRole('row', { name: new RegExp(agent) })).toHaveCount(0);
  await sales.reload();
  await expect(sales.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  await expect(sales.getByText(agent)).toHaveCount(0);
  for (const p of problems) expect(p).toEqual([]);
});
