import { test, expect } from '@playwright/test';
import { OWNER } from '../playwright.config';
import { hydrated, signIn, watchConsole } from './helpers';

// The bundle is split by page: each full load fetches the shared core and that page's pieces,
// and moving to another page inside the app fetches its pieces then. Every page must hydrate
// with no error or warning either way.
test('every page hydrates cleanly from a full load and from in-app navigation', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/login');
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page).toHaveURL(/\/app\/escalations$/);
  const pages: [string, string][] = [
    ['/app/escalations', 'Escalations'],
    ['/app/chat', 'Chat'],
    ['/app/dashboard', 'Dashboard'],
    ['/app/settings/agents', 'Agents'],
    ['/app/settings/members', 'Members & Teams'],
    ['/app/settings/tokens', 'Tokens'],
    ['/app/settings/models', 'Models'],
    ['/app/settings/notifications', 'Notifications'],
    ['/app/audit', 'Audit'],
    ['/app/settings/account', 'Account'],
  ];
  for (const [path, heading] of pages) {
    await page.goto(path);
    await expect(page).toHaveURL(new RegExp(`${path}$`));
    await hydrated(page);
    await expect(page.getByRole('heading', { level: 1, name: heading, exact: true })).toBeVisible();
  }
  await page.goto('/app/escalations');
  await hydrated(page);
  const nav = page.getByRole('navigation', { name: 'Main' });
  const moves: [string, RegExp, string][] = [
    ['Chat', /\/app\/chat$/, 'Chat'],
    ['Dashboard', /\/app\/dashboard$/, 'Dashboard'],
    ['Agents', /\/app\/settings\/agents$/, 'Agents'],
    ['Audit', /\/app\/audit$/, 'Audit'],
    ['Tokens', /\/app\/settings\/tokens$/, 'Tokens'],
    ['Models', /\/app\/settings\/models$/, 'Models'],
    ['Notifications', /\/app\/settings\/notifications$/, 'Notifications'],
  ];
  for (const [link, url, heading] of moves) {
    await nav.getByRole('link', { name: link, exact: true }).click();
    await expect(page).toHaveURL(url);
    await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
  }
  expect(problems).toEqual([]);
});

// A full load fetches the page's pieces as one pack (scripts/lib/pack-split.mjs); moving to
// another page fetches only the pieces it lacks, one by one.
test('a full load fetches its page in one pack, and moving on fetches only what is missing', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/login');
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page).toHaveURL(/\/app\/escalations$/);
  const fetched: string[] = [];
  page.on('request', (r) => {
    const name = new URL(r.url()).pathname.split('/').pop() ?? '';
    if (/^(pack_|chunk_|split_).*\.(bin|wasm)$/.test(name)) fetched.push(name);
  });
  await page.goto('/app/settings/agents');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Agents', exact: true })).toBeVisible();
  expect(fetched.filter((f) => f.startsWith('pack_'))).toHaveLength(1);
  expect(fetched.filter((f) => !f.startsWith('pack_'))).toEqual([]);
  fetched.length = 0;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tokens', exact: true })).toBeVisible();
  expect(fetched.filter((f) => f.startsWith('pack_'))).toEqual([]);
  expect(fetched.some((f) => f.startsWith('split_'))).toBe(true);
  expect(problems).toEqual([]);
});
