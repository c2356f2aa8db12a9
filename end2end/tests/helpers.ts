import { expect, Page } from '@playwright/test';
import { OWNER } from '../playwright.config';

/**
 * Console errors and warnings (hydration problems show here) and uncaught page errors.
 * `expectedStatuses` are HTTP answers the test provokes on purpose (a refused duplicate, say):
 * the browser logs those as errors too, but they are not problems.
 */
export function watchConsole(page: Page, expectedStatuses: number[] = []): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    const text = msg.text();
    const expected = expectedStatuses.some((s) => text.includes(`status of ${s} `));
    if ((msg.type() === 'error' || msg.type() === 'warning') && !expected) problems.push(`${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return problems;
}

/** Never click before the event handlers exist. */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

export async function signIn(page: Page, email: string, password: string) {
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Creates a fresh agent in the Support team and opens its page. */
export async function newAgent(page: Page, name: string) {
  await page.goto('/login?next=/app/settings/agents');
  await signIn(page, OWNER.email, OWNER.password);
  await expect(page.getByRole('heading', { name: 'Agents', exact: true })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Agent name').fill(name);
  await page.getByLabel('Team').selectOption({ label: 'Support' });
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
  await hydrated(page);
}

