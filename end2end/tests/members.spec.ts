import { test, expect } from '@playwright/test';
import { OWNER } from '../playwright.config';
import { hydrated, signIn, watchConsole } from './helpers';

test('an owner adds a person and a team; a member cannot reach the page', async ({ page, browser }) => {
  // 409: the duplicate email below is refused on purpose.
  const problems = watchConsole(page, [409]);
  const stamp = Date.now();
  const email = `pat${stamp}@example.com`;
  const team = `Billing ${stamp}`;
  await page.goto('/login?next=/app/settings/members');
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page.getByRole('heading', { name: 'Members & Teams' })).toBeVisible();
  await hydrated(page);

  // Demo data: the tutorial's teams are there.
  await expect(page.getByRole('heading', { name: 'Support', exact: true })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Sales', exact: true })).toBeVisible();

  await page.getByLabel('Name', { exact: true }).fill('Pat');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Initial password').fill('pat-password-1');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('cell', { name: email })).toBeVisible();

  // The same email twice is refused with a clear message.
  await page.getByLabel('Name', { exact: true }).fill('Pat again');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Initial password').fill('pat-password-1');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('alert')).toHaveText(`A user with the email ${email} already exists.`);

  await page.getByLabel('Team name').fill(team);
  await page.getByRole('button', { name: 'Create team' }).click();
  const card = page.getByRole('article', { name: team });
  await expect(card).toBeVisible();
  await card.getByLabel(`Add to ${team}`).selectOption({ label: 'Pat' });
  await card.getByRole('button', { name: 'Add member' }).click();
  await expect(card.getByText(email)).toBeVisible();
  expect(problems).toEqual([]);

  // Pat is a member: no Members & Teams in the menu, and the page refuses.
  const ctx = await browser.newContext();
  const pat = await ctx.newPage();
  await pat.goto('/login');
  await signIn(pat, email, 'pat-password-1');
  await expect(pat.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  await hydrated(pat);
  await expect(pat.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' })).toBeVisible();
  await expect(pat.getByRole('link', { name: 'Members & Teams' })).toHaveCount(0);
  await pat.goto('/app/settings/members');
  await expect(pat.getByRole('alert')).toHaveText('Only owners and admins can manage members and teams.');
  await ctx.close();

  // Removing Pat from the team.
  await card.getByRole('button', { name: `Remove Pat from ${team}` }).click();
  await expect(card.getByText(email)).toHaveCount(0);
});
