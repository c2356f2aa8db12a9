import { test, expect } from '@playwright/test';
import { EMPTY_URL } from '../playwright.config';
import { hydrated } from './helpers';

test('the first visit creates the first admin account', async ({ page, browser }) => {
  await page.goto(`${EMPTY_URL}/`);
  await expect(page).toHaveURL(`${EMPTY_URL}/setup`);
  await expect(page.getByRole('heading', { name: 'Welcome to Flare' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Name').fill('Ada Admin');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('ada-password-1');
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page).toHaveURL(`${EMPTY_URL}/app/escalations`);
  await expect(page.getByText('No escalations yet. All agents are running smoothly.')).toBeVisible();
  await expect(page.getByText('Ada Admin')).toBeVisible();
  // The page is gone once the account exists: signed in, it leads to the app...
  await page.goto(`${EMPTY_URL}/setup`);
  await expect(page).toHaveURL(`${EMPTY_URL}/app/escalations`);
  // ...and for anyone else, to the sign-in page.
  const ctx = await browser.newContext();
  const other = await ctx.newPage();
  await other.goto(`${EMPTY_URL}/setup`);
  await expect(other).toHaveURL(`${EMPTY_URL}/login`);
  await ctx.close();
});
