import { test, expect, Page } from '@playwright/test';
import { MESSAGE, hydrated, openChat, watchConsole } from './helpers';

// The tutorial, Steps 4 to 6: a rule in the Description, a message that hits it, the card,
// and a person's answer that the agent continues from.

/** A new agent with the tutorial's rule, and a chat thread with it; returns the thread URL. */
async function escalatingChat(page: Page): Promise<string> {
  await openChat(page, `Customer Support Agent ${Date.now()}`);
  await page.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await page.getByRole('button', { name: 'Send' }).click();
  return page.url();
}

const card = (page: Page) => page.getByRole('article', { name: 'Escalation' });

test('a rule escalates, and Respond & Resume from another tab resumes the agent live', async ({ page, context }) => {
  const problems = watchConsole(page);
  const url = await escalatingChat(page);
  await expect(card(page)).toBeVisible();
  await expect(card(page).getByRole('heading', { name: 'Agent Needs Help' })).toBeVisible();
  await expect(card(page)).toContainText('refund');
  await expect(card(page).getByRole('img', { name: 'Severity: warning' })).toBeVisible();
  await expect(card(page).getByRole('button', { name: 'Respond & Resume' })).toBeVisible();
  await expect(card(page).getByRole('button', { name: 'Dismiss' })).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Message' })).toHaveValue('');

  // Another tab answers; the first one updates without reload.
  const other = await context.newPage();
  const otherProblems = watchConsole(other);
  await other.goto(url);
  await hydrated(other);
  await card(other).getByRole('button', { name: 'Respond & Resume' }).click();
  await card(other).getByRole('textbox', { name: 'Guidance for the agent' }).fill('approve the refund');
  // The watching tab fetches the thread once per burst of events, not once per event (an
  // answer announces four: the escalation, the run resumed, the reply, the run completed).
  const fetches: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/load_thread')) fetches.push(r.url());
  });
  await card(other).getByRole('button', { name: 'Send guidance' }).click();
  await expect(card(other)).toContainText('Resolved by');

  await expect(card(page)).toContainText('Resolved by');
  await expect(card(page)).toContainText('approve the refund');
  await expect(card(page).getByRole('button', { name: 'Respond & Resume' })).toHaveCount(0);
  const reply = page.getByRole('article', { name: /^Message from Customer Support Agent/ });
  await expect(reply).toContainText('continuing with your guidance: “approve the refund”');
  await page.waitForTimeout(500);
  expect(fetches.length).toBeGreaterThanOrEqual(1);
  expect(fetches.length).toBeLessThanOrEqual(2);
  expect(problems).toEqual([]);
  expect(otherProblems).toEqual([]);
});

test('Dismiss lets the agent proceed on its own', async ({ page }) => {
  const problems = watchConsole(page);
  await escalatingChat(page);
  await card(page).getByRole('button', { name: 'Dismiss' }).click();
  await expect(card(page)).toContainText('Dismissed by');
  const reply = page.getByRole('article', { name: /^Message from Customer Support Agent/ });
  await expect(reply).toContainText('The escalation was dismissed, so I am proceeding on my own');
  expect(problems).toEqual([]);
});
