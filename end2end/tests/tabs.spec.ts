import { test, expect, Page } from '@playwright/test';
import { MESSAGE, hydrated, openChat, watchConsole } from './helpers';

// Chromium opens at most 6 HTTP/1.1 connections per host. With a live stream per tab, the
// seventh Flare tab hung. The tabs now share one stream (one leads, the rest listen).
test('eight tabs are all live and can all still navigate', async ({ context }) => {
  test.setTimeout(120_000);
  const agent = `Tabs Agent ${Date.now()}`;
  const chat = await context.newPage();
  await openChat(chat, agent);
  const streams: string[] = [];
  context.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/live') streams.push(r.url());
  });
  const tabs: Page[] = [];
  const problems: string[][] = [];
  for (let i = 0; i < 8; i++) {
    const tab = await context.newPage();
    problems.push(watchConsole(tab));
    await tab.goto('/app/escalations');
    await expect(tab.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
    await hydrated(tab);
    tabs.push(tab);
  }
  // The agent escalates: every tab shows it, without reload.
  await chat.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await chat.getByRole('button', { name: 'Send' }).click();
  for (const tab of tabs) {
    await expect(
      tab.getByRole('table').getByRole('row').filter({ hasText: agent }),
    ).toHaveCount(1, { timeout: 15_000 });
  }
  // Every tab can still load pages (no connection is held by a stream of its own).
  for (const tab of tabs) {
    await tab.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat' }).click();
    await expect(tab.getByRole('heading', { name: 'Chat', exact: true })).toBeVisible();
  }
  // One stream serves them all (the chat tab's).
  expect(streams.length).toBeLessThanOrEqual(1);
  // The leading tab closes; another takes the stream over and every tab stays live: one
  // tab dismisses the escalation, and it leaves the others' lists without reload.
  await chat.close();
  for (const tab of tabs) {
    await tab.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Escalations' }).click();
    await expect(tab.getByRole('table').getByRole('row').filter({ hasText: agent })).toHaveCount(1);
  }
  await tabs[0].getByRole('table').getByRole('row').filter({ hasText: agent })
    .getByRole('button', { name: 'Dismiss' }).click();
  for (const tab of tabs) {
    await expect(tab.getByRole('table').getByRole('row').filter({ hasText: agent })).toHaveCount(0, {
      timeout: 15_000,
    });
  }
  for (const p of problems) expect(p).toEqual([]);
});
