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
  ];
  for (const [link, url, heading] of moves) {
    await nav.getByRole('link', { name: link, exact: true }).click();
    await expect(page).toHaveURL(url);
    await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
  }
  expect(problems).toEqual([]);
});
