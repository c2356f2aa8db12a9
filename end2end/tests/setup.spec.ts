import { test, expect } from '@playwright/test';
import { spawn, ChildProcess } from 'child_process';
import { EMPTY_URL, bin, flareEnv } from '../playwright.config';
import { hydrated, signIn } from './helpers';

// A Flare with demo data and no admin (`--demo` without FLARE_ADMIN_*), started here so the
// test can read the one-time setup code from its log, as the person running it would.
const PORT = Number(new URL(EMPTY_URL).port);
let flare: ChildProcess | undefined;
let log = '';

test.beforeAll(async () => {
  flare = spawn(bin, [], {
    env: { ...process.env, ...flareEnv(PORT, 'setup.db', { FLARE_DEMO: '1', RUST_LOG: 'warn' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  flare.stdout!.on('data', (d) => (log += d.toString()));
  flare.stderr!.on('data', (d) => (log += d.toString()));
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${EMPTY_URL}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('flare did not start');
});

test.afterAll(async () => {
  const p = flare;
  if (p && p.exitCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
});

test('the first admin is created with the setup code from the log', async ({ page, browser }) => {
  const code = log.match(/setup code: ([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})/)?.[1];
  expect(code, `no setup code in the log:\n${log}`).toBeTruthy();
  await page.goto(`${EMPTY_URL}/`);
  await expect(page).toHaveURL(`${EMPTY_URL}/setup`);
  await expect(page.getByRole('heading', { name: 'Welcome to Flare' })).toBeVisible();
  await hydrated(page);
  // A wrong code is refused with a clear message and creates nothing.
  await page.getByLabel('Setup code').fill('AAAA-BBBB-CCCC');
  await page.getByLabel('Name').fill('Ada Admin');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('ada-password-1');
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page.getByRole('alert')).toContainText('That setup code is not right.');
  await page.getByLabel('Setup code').fill(code!);
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page).toHaveURL(`${EMPTY_URL}/app/escalations`);
  await expect(page.getByText('No escalations yet. All agents are running smoothly.')).toBeVisible();
  await expect(page.getByText('Ada Admin')).toBeVisible();
  // The admin joined the demo teams and sees their agents.
  await page.goto(`${EMPTY_URL}/app/settings/agents`);
  await expect(page.getByRole('link', { name: 'Customer Support Agent' })).toBeVisible();
  // The page is gone once the account exists: signed in, it leads to the app...
  await page.goto(`${EMPTY_URL}/setup`);
  await expect(page).toHaveURL(`${EMPTY_URL}/app/escalations`);
  // ...and for anyone else, to the sign-in page, where demo members sign in.
  const ctx = await browser.newContext();
  const other = await ctx.newPage();
  await other.goto(`${EMPTY_URL}/setup`);
  await expect(other).toHaveURL(`${EMPTY_URL}/login`);
  await signIn(other, 'support@example.com', 'flare-demo-password');
  await expect(other).toHaveURL(`${EMPTY_URL}/app/escalations`);
  await ctx.close();
});
