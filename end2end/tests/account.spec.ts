import { test, expect } from '@playwright/test';
import { OWNER } from '../playwright.config';
import { hydrated, signIn, watchConsole } from './helpers';

test('a person changes their password; an admin deactivates someone; sign-out forgets drafts', async ({ page, browser }) => {
  // 403: the wrong current password below is refused on purpose.
  const problems = watchConsole(page, [403]);
  const stamp = Date.now();
  const email = `kim${stamp}@example.com`;
  await page.goto('/login?next=/app/settings/members');
  await signIn(page, OWNER.email, OWNER.password);
  await hydrated(page);
  await page.getByLabel('Name', { exact: true }).fill('Kim');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Initial password').fill('kim-password-1');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('cell', { name: email })).toBeVisible();

  // Kim signs in elsewhere and changes the password.
  const kimContext = await browser.newContext();
  const kim = await kimContext.newPage();
  await kim.goto('/login?next=/app/settings/account');
  await signIn(kim, email, 'kim-password-1');
  await expect(kim.getByRole('heading', { name: 'Account', exact: true })).toBeVisible();
  await hydrated(kim);
  await kim.getByLabel('Current password').fill('not it at all');
  await kim.getByLabel('New password').fill('kim-password-2');
  await kim.getByRole('button', { name: 'Change password' }).click();
  await expect(kim.getByRole('alert')).toContainText('current password is not right');
  await kim.getByLabel('Current password').fill('kim-password-1');
  await kim.getByRole('button', { name: 'Change password' }).click();
  await expect(kim.getByRole('status')).toHaveText('Password changed. Other sessions were signed out.');

  // The owner deactivates Kim: Kim's open page loses its session.
  await page.getByRole('button', { name: `Deactivate Kim` }).click();
  await expect(page.getByRole('button', { name: `Reactivate Kim` })).toBeVisible();
  await kim.reload();
  await expect(kim).toHaveURL(/\/login/);
  await signIn(kim, email, 'kim-password-2');
  await expect(kim.getByRole('alert')).toContainText('deactivated');
  await kimContext.close();

  // An unsaved Description copy in this browser is forgotten at sign-out.
  await page.evaluate(() => localStorage.setItem('flare.description.some-agent', '1\nunsaved words'));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  expect(await page.evaluate(() => localStorage.getItem('flare.description.some-agent'))).toBeNull();
  expect(problems.filter((p) => !p.includes('403'))).toEqual([]);
});
