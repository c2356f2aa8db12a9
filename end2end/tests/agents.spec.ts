import { test, expect, Browser, Page } from '@playwright/test';
import { OWNER } from '../playwright.config';
import { hydrated, newAgent, signIn, watchConsole } from './helpers';

const RULE = 'Always escalate any request involving refunds, account deletions, or threats of legal action.';

const description = (page: Page) => page.getByRole('textbox', { name: 'Description' });
const status = (page: Page) => page.getByRole('status');

/** What the server holds, read from a fresh browser (no local copy of unsaved text). */
async function serverText(browser: Browser, url: string): Promise<string> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await signIn(page, OWNER.email, OWNER.password);
  await expect(description(page)).toBeVisible();
  const value = await description(page).inputValue();
  await ctx.close();
  return value;
}

test('the demo agents are listed with their rules', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/login?next=/app/settings/agents');
  await signIn(page, OWNER.email, OWNER.password);
  const row = page.getByRole('row', { name: /Customer Support Agent/ });
  await expect(row).toContainText('Escalates on: refunds, account deletions, threats of legal action');
  await row.getByRole('link', { name: 'Customer Support Agent' }).click();
  await expect(page.getByText('Flare will escalate when:')).toBeVisible();
  await hydrated(page);
  expect(problems).toEqual([]);
});

test('typing saves without a button, and survives a reload', async ({ page, browser }) => {
  const problems = watchConsole(page);
  await newAgent(page, `Autosave ${Date.now()}`);
  await expect(page.getByRole('button', { name: /save/i })).toHaveCount(0);
  await description(page).pressSequentially(RULE, { delay: 5 });
  await expect(status(page)).toHaveText('Saved');
  // What Flare understood updates as you type.
  await expect(page.getByText('Flare will escalate when:')).toBeVisible();
  await expect(page.getByRole('complementary')).toContainText('“refunds”');
  await page.reload();
  await expect(description(page)).toHaveValue(RULE);
  expect(await serverText(browser, page.url())).toBe(RULE);
  expect(problems).toEqual([]);
});

test('What Flare understood follows the text before anything is saved', async ({ page }) => {
  await newAgent(page, `Preview ${Date.now()}`);
  const panel = page.getByRole('complementary');
  await expect(panel).toContainText('No rule Flare can enforce yet.');
  // No save reaches the server: the panel is worked out in the browser as the text changes.
  await page.route('**/api/save_description', (route) => route.abort());
  await description(page).fill(RULE);
  await expect(panel).toContainText('“account deletions”');
  await expect(status(page)).toHaveText('Offline — will retry');
  await description(page).fill('Escalate refund requests over $500.');
  await expect(panel).toContainText('over $500');
  await expect(panel).not.toContainText('“account deletions”');
  await description(page).fill('');
  await expect(panel).toContainText('No rule Flare can enforce yet.');
});

test('leaving the page right after typing leaves no error behind', async ({ page }) => {
  const problems = watchConsole(page);
  await newAgent(page, `Quick leave ${Date.now()}`);
  await description(page).fill(RULE);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Escalations' }).click();
  await expect(page.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  // Past the pause after which the left page would have asked for "What Flare understood".
  await page.waitForTimeout(1000);
  await nav.getByRole('link', { name: 'Agents', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Agents', exact: true })).toBeVisible();
  expect(problems).toEqual([]);
});

test('navigating away 100 ms after typing loses nothing', async ({ page, browser }) => {
  await newAgent(page, `Leaver ${Date.now()}`);
  const url = page.url();
  await description(page).fill(RULE);
  await page.waitForTimeout(100);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Escalations' }).click();
  await expect(page.getByRole('heading', { name: 'Escalations', exact: true })).toBeVisible();
  await expect.poll(() => serverText(browser, url)).toBe(RULE);
});

test('failed saves show Offline and are retried until they succeed', async ({ page, browser }) => {
  await newAgent(page, `Offline ${Date.now()}`);
  await page.route('**/api/save_description', (route) => route.abort());
  await description(page).fill('Escalate refund requests over $100.');
  await expect(status(page)).toHaveText('Offline — will retry');
  await page.unroute('**/api/save_description');
  await expect(status(page)).toHaveText('Saved', { timeout: 15_000 });
  expect(await serverText(browser, page.url())).toBe('Escalate refund requests over $100.');
});

test('an error on our side is said as such, not as Offline, and the next edit saves', async ({ page, browser }) => {
  await newAgent(page, `Server error ${Date.now()}`);
  let attempts = 0;
  await page.route('**/api/save_description', (route) => {
    attempts += 1;
    return route.fulfill({ status: 500, contentType: 'application/json', body: '{"kind":"Internal"}' });
  });
  await description(page).fill('Escalate refund requests over $200.');
  await expect(status(page)).toHaveText(/^Not saved: Something went wrong on our side/);
  const seen = attempts;
  await page.waitForTimeout(3000);
  expect(attempts).toBe(seen); // not retried as if the browser were offline
  await page.unroute('**/api/save_description');
  await description(page).fill('Escalate refund requests over $250.');
  await expect(status(page)).toHaveText('Saved', { timeout: 15_000 });
  expect(await serverText(browser, page.url())).toBe('Escalate refund requests over $250.');
});

test('two editors: the conflict is shown and nothing is silently overwritten', async ({ page, browser }) => {
  await newAgent(page, `Shared ${Date.now()}`);
  const url = page.url();
  const ctx = await browser.newContext();
  const other = await ctx.newPage();
  await other.goto(url);
  await signIn(other, OWNER.email, OWNER.password);
  await expect(description(other)).toBeVisible();
  await hydrated(other);

  await description(page).fill('Mine: escalate refunds.');
  await expect(status(page)).toHaveText('Saved');
  // The other editor still holds the old revision.
  await description(other).fill('Theirs: escalate lawyers.');
  await expect(other.getByRole('alert')).toContainText('saved a newer version');
  await expect(other.locator('.their-text')).toHaveText('Mine: escalate refunds.');
  await other.getByRole('button', { name: 'Keep mine' }).click();
  await expect(status(other)).toHaveText('Saved');
  expect(await serverText(browser, url)).toBe('Theirs: escalate lawyers.');
  await page.reload();
  // Both texts are in the history.
  await expect(page.getByRole('button', { name: 'Restore revision 2' })).toBeVisible();
  await ctx.close();
});

test('Try a message says whether it would escalate, by meaning, without sending it', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/login?next=/app/settings/agents');
  await signIn(page, OWNER.email, OWNER.password);
  await page.getByRole('link', { name: 'Customer Support Agent' }).click();
  await expect(page.getByRole('heading', { name: 'Try a message' })).toBeVisible();
  await hydrated(page);
  const box = page.getByRole('region', { name: 'Try a message' });
  await box.getByRole('textbox', { name: 'Message' }).fill('I want my money back');
  await box.getByRole('button', { name: 'Try it' }).click();
  await expect(box.getByText('Would escalate (Critical)')).toBeVisible();
  await expect(box).toContainText('By meaning: “I want my money back” is close to');
  await box.getByRole('textbox', { name: 'Message' }).fill('How do I delete a draft?');
  await box.getByRole('button', { name: 'Try it' }).click();
  await expect(box.getByText('Would not escalate')).toBeVisible();
  await expect(box).toContainText('Closest, not enough');
  expect(problems).toEqual([]);
});
