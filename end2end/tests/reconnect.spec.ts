import { test, expect, Page } from '@playwright/test';
import { ChildProcess } from 'child_process';
import { MESSAGE, hydrated, launchFlare, openChat, signIn, stopFlare } from './helpers';

// This test kills and restarts its server, so it runs its own (the shared ones stay up).
const PORT = 3103;
const BASE = `http://127.0.0.1:${PORT}`;
test.use({ baseURL: BASE });

let flare: ChildProcess | undefined;

async function startFlare() {
  flare = await launchFlare(PORT, 'restart.db');
}

async function killFlare() {
  const p = flare;
  flare = undefined;
  await stopFlare(p, 'SIGKILL');
}

test.afterAll(killFlare);

const openRows = (page: Page) => page.getByRole('table').getByRole('row').filter({ hasText: 'trigger: chat' });

test('the Escalations page catches up after a network drop and after a server restart', async ({ browser }) => {
  test.setTimeout(120_000);
  await startFlare();
  const agent = `Reconnect Agent ${Date.now()}`;
  const owner = await (await browser.newContext()).newPage();
  const watcherContext = await browser.newContext();
  const watcher = await watcherContext.newPage();
  // (No console check here: the dropped streams and refused reconnects are logged, as expected.)

  await openChat(owner, agent);
  await watcher.goto('/login?next=/app/escalations');
  await signIn(watcher, 'support@example.com', 'flare-demo-password');
  await expect(watcher.getByText('No escalations yet. All agents are running smoothly.')).toBeVisible();
  await hydrated(watcher);

  // 1. The watcher's network drops; meanwhile the agent escalates. (Chromium keeps the open
  // stream through an emulated drop, so the event arrives, but the refetch it triggers fails.)
  await watcherContext.setOffline(true);
  await owner.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await owner.getByRole('button', { name: 'Send' }).click();
  await expect(owner.getByRole('article', { name: 'Escalation' })).toBeVisible();
  await watcher.waitForTimeout(1500);
  await expect(openRows(watcher)).toHaveCount(0);
  // Back online: the page refetches by itself and shows what it missed, without reload.
  await watcherContext.setOffline(false);
  await expect(openRows(watcher)).toHaveCount(1, { timeout: 20_000 });
  await expect(openRows(watcher).first()).toContainText(agent);

  // The watcher answers; the chat goes on.
  await openRows(watcher).first().getByRole('button', { name: 'Dismiss' }).click();
  await expect(openRows(watcher)).toHaveCount(0);
  await expect(owner.getByRole('article', { name: /^Message from / }).last()).toContainText('proceeding on my own');

  // 2. The server is killed and restarted, and the agent escalates again before the watcher's
  // stream is back (the browser waits about 3 s before reconnecting): the page learns of it
  // only by catching up when its stream reconnects.
  const streams: number[] = [];
  watcher.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/live') streams.push(Date.now());
  });
  await killFlare();
  await startFlare();
  await owner.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  const sent = owner.waitForResponse((r) => r.url().endsWith('/api/send_message') && r.ok());
  await owner.getByRole('button', { name: 'Send' }).click();
  await sent;
  const sentAt = Date.now();
  await expect(openRows(watcher)).toHaveCount(1, { timeout: 20_000 });
  await expect(watcher.getByRole('navigation', { name: 'Main' })).toContainText('1 open');
  expect(streams.length).toBeGreaterThan(0);
  expect(streams[0]).toBeGreaterThan(sentAt); // the stream came back after the escalation
  // The chat's own page caught up the same way.
  await expect(owner.getByRole('article', { name: 'Escalation' }).last()).toContainText('Respond & Resume');
});
