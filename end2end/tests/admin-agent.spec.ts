import { test, expect, Page } from '@playwright/test';
import { ChildProcess } from 'child_process';
import { hydrated, launchFlare, newAgent, stopFlare, watchConsole } from './helpers';

// Its escalations must not show on the shared server's pages (other tests expect none there),
// so it runs its own Flare with the demo data.
const PORT = 3104;
test.use({ baseURL: `http://127.0.0.1:${PORT}` });

let flare: ChildProcess | undefined;
test.beforeAll(async () => {
  flare = await launchFlare(PORT, 'coach.db');
});
test.afterAll(async () => stopFlare(flare, 'SIGTERM'));

// A server function called as the signed-in page would (same cookies); its JSON answer.
async function call(page: Page, endpoint: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${endpoint}`, { form });
  expect(res.ok(), `${endpoint}: ${await res.text()}`).toBeTruthy();
  return res.json();
}

// A message to the demo Customer Support Agent that escalates; returns the card's id.
async function escalate(page: Page, agentId: string, text: string): Promise<string> {
  const thread = await call(page, 'start_thread', { agent_id: agentId });
  await call(page, 'send_message', { thread_id: thread, body: text });
  for (let i = 0; i < 100; i++) {
    const t = await call(page, 'load_thread', { thread_id: thread });
    const card = t.messages.find((m: any) => m.escalation && m.escalation.status === 'open');
    if (t.last_run?.status === 'waiting' && card) return card.escalation.id;
    await page.waitForTimeout(100);
  }
  throw new Error('no escalation card');
}

// The tutorial's three prompts, offline, against the demo data with escalations answered:
// the answers name the demo agents and real figures, and a draft goes into an agent's
// Description with "Copy to Description" (saved like typing).
test('the Admin Agent answers the three tutorial prompts offline from real data', async ({ page }) => {
  const problems = watchConsole(page);
  const target = `Coach Target ${Date.now()}`;
  await newAgent(page, target);
  await page.getByRole('textbox', { name: 'Description' }).fill('You answer customers about billing, invoices and refunds.');
  await expect(page.getByRole('status')).toHaveText('Saved');

  const agents = await call(page, 'list_agents', {});
  const support = agents.find((a: any) => a.name === 'Customer Support Agent').id;
  const guidance = `Offer store credit first (e2e ${Date.now()}).`;
  for (const text of ['I want a refund for order 2001.', 'Refund my order 2002 please.']) {
    const id = await escalate(page, support, text);
    await call(page, 'respond_escalation', { escalation_id: id, guidance });
  }
  await call(page, 'dismiss_escalation', { escalation_id: await escalate(page, support, 'My lawyer says you owe me money.') });

  await page.goto('/app/chat');
  await hydrated(page);
  await page.getByRole('link', { name: 'Chat with the Admin Agent' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Admin Agent' })).toBeVisible();
  await hydrated(page);
  const answers = page.getByRole('article', { name: 'Answer from the Admin Agent' });

  // 1. One click on the suggestion.
  await page.getByRole('button', { name: 'Find the moments each agent should escalate' }).click();
  const first = answers.nth(0);
  for (const name of ['Customer Support Agent', 'Contract Reviewer Agent', 'Sales Outreach Agent', target]) {
    await expect(first).toContainText(name, { timeout: 20_000 });
  }
  await expect(first).toContainText('Offline');
  await expect(first).toContainText('Already covered by its rules: money, deletion, legal');

  // 3. The review: real counts and the guidance given twice.
  const ask = async (text: string) => {
    await page.getByRole('textbox', { name: 'Ask the Admin Agent' }).fill(text);
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
  };
  await ask('Look at the escalations my agents created in the last week or two. For each one, tell me: was it the right thing to escalate?');
  const review = answers.nth(1);
  await expect(review).toContainText(/\d+ escalations: (\d+) resolved, (\d+) dismissed/, { timeout: 20_000 });
  const counts = (await review.textContent())!.match(/(\d+) escalations: (\d+) resolved, (\d+) dismissed/)!;
  expect(Number(counts[2])).toBeGreaterThanOrEqual(2);
  expect(Number(counts[3])).toBeGreaterThanOrEqual(1);
  await expect(review).toContainText(`“${guidance}” (2 times`);
  await expect(review).toContainText('Median time to answer');

  // 2. The wording for one agent, then into its Description.
  await ask(`For my agent "${target}," draft me the exact wording I should add to its Description so it escalates in the right situations.`);
  const drafted = answers.nth(2);
  await expect(drafted).toContainText('Always escalate any request involving refunds', { timeout: 20_000 });
  await drafted.getByRole('link', { name: `Copy to Description of ${target}` }).click();
  await expect(page.getByRole('heading', { level: 1, name: target })).toBeVisible();
  await hydrated(page);
  const description = page.getByRole('textbox', { name: 'Description' });
  await expect(description).toHaveValue(/^You answer customers about billing, invoices and refunds\.\n\nAlways escalate any request involving refunds/);
  await expect(page.getByRole('status')).toHaveText('Saved');
  await expect(page).not.toHaveURL(/add=/);
  // Saved as a revision: a reload shows it, and adds nothing twice.
  await page.reload();
  await hydrated(page);
  const text = await description.inputValue();
  expect(text.split('Always escalate any request involving refunds').length).toBe(2);
  await expect(page.getByRole('status')).toHaveText('Saved');
  expect(problems).toEqual([]);
});
