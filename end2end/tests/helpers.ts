import { expect, Page } from '@playwright/test';

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
