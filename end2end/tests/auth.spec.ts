import { test, expect } from '@playwright/test';
import { OWNER } from '../playwright.config';
import { hydrated, signIn, watchConsole } from './helpers';

test('a signed-out visit goes to sign-in and back, and hydrates cleanly', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/app/settings/members');
  await expect(page).toHaveURL(/\/login\?next=%2Fapp%2Fsettings%2Fmembers|\/login\?next=\/app\/settings\/members/);
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page).toHaveURL(/\/app\/settings\/members$/);
  await expect(page.getByRole('heading', { name: 'Members & Teams' })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Escalations' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Chat' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Agents' })).toBeVisible();
  await expect(nav.getByRole('button', { name: 'Sign out' })).toBeVisible();
  // A full load of an app page hydrates with no error or warning in the console.
  await page.reload();
  await hydrated(page);
  await nav.getByRole('link', { name: 'Escalations' }).click();
  await expect(page.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  await expect(page.getByText('No escalations yet. All agents are running smoothly.')).toBeVisible();
  expect(problems).toEqual([]);
});

test('a wrong password says so and signs nobody in', async ({ page }) => {
  await page.goto('/login');
  await signIn(page, OWNER.email, 'not the password');
  await expect(page.getByRole('alert')).toHaveText('Wrong email or password.');
  await page.goto('/app/escalations');
  await expect(page).toHaveURL(/\/login/);
});

test('signing out ends the session', async ({ page }) => {
  await page.goto('/login');
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page).toHaveURL(/\/app\/escalations$/);
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/app/chat');
  await expect(page).toHaveURL(/\/login\?next=/);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('pages render and the sign-in form works', async ({ page }) => {
    await page.goto('/app/chat');
    await expect(page).toHaveURL(/\/login\?next=/);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('wrong password here');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Wrong email or password.');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Chat', exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  });
});
