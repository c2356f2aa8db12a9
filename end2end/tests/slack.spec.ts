import { test, expect } from '@playwright/test';
import { ChildProcess } from 'child_process';
import { createHmac } from 'crypto';
import { createServer } from 'http';
import { AddressInfo } from 'net';
import { MESSAGE, hydrated, launchFlare, openChat, stopFlare, watchConsole } from './helpers';

// Issue 16: answering from Slack. A Flare of this test's own talks to a local server that
// speaks Slack's Web API; the test sends the clicks Slack would, signed with the app's secret.
const PORT = 3104;
const BASE = `http://127.0.0.1:${PORT}`;
test.use({ baseURL: BASE });

const SIGNING_SECRET = '3f1c0e9a7b5d4c2e8a6f0b1d3c5e7a9b';
const BOT_TOKEN = 'xoxb-9999-8888-e2etestbottoken';

type Call = { path: string; body: any };

/** A local stand-in for Slack's Web API (and a click's response_url): records and says ok. */
async function fakeSlack(): Promise<{ url: string; calls: Call[]; close: () => void }> {
  const calls: Call[] = [];
  let ts = 1_700_000_000;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls.push({ path: req.url ?? '', body: JSON.parse(body || 'null') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, ts: `${++ts}.000100` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, calls, close: () => server.close() };
}

/** Sends Flare a click on an escalation's button, signed as Slack signs it. */
async function click(answersUrl: string, responseUrl: string, action: string, escalation: string) {
  const payload = {
    type: 'block_actions',
    team: { id: 'T0E2E0001' },
    user: { id: 'U0E2E0001', username: 'ada', team_id: 'T0E2E0001' },
    trigger_id: `trig.${Date.now()}`,
    response_url: responseUrl,
    actions: [{ type: 'button', action_id: action, value: escalation }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex');
  const res = await fetch(answersUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': `v0=${signature}`,
    },
    body,
  });
  expect(res.status).toBe(200);
}

/** Sends Flare an Events API request, signed as Slack signs it. */
async function slackEvent(eventsUrl: string, payload: object) {
  const body = JSON.stringify(payload);
  const ts = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex');
  const res = await fetch(eventsUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': `v0=${signature}`,
    },
    body,
  });
  expect(res.status).toBe(200);
}

let flare: ChildProcess | undefined;
test.afterAll(async () => stopFlare(flare, 'SIGTERM'));

test('a Slack click links the account once, then dismisses the escalation, live on its card; a mention starts a run that replies in its thread', async ({ page }) => {
  test.setTimeout(90_000);
  const slack = await fakeSlack();
  flare = await launchFlare(PORT, 'slack.db', { FLARE_SLACK_API_URL: `${slack.url}/api`, FLARE_PUBLIC_URL: BASE });
  const problems = watchConsole(page);
  const agent = `Slack Agent ${Date.now()}`;
  await openChat(page, agent);
  const thread = page.url();

  // The channel, then its buttons, on Settings → Notifications.
  await page.goto('/app/settings/notifications');
  await hydrated(page);
  await page.getByLabel('Chat app').selectOption({ label: 'Slack' });
  await page.getByLabel('Chat channel name').fill('Support escalations');
  await page.getByLabel('Bot token').fill(BOT_TOKEN);
  await page.getByLabel('Channel ID').fill('C0E2E00001');
  await page.getByLabel('Team to post for').selectOption({ label: 'Support' });
  await page.getByRole('button', { name: 'Add chat channel' }).click();
  const row = page.getByRole('row', { name: /Support escalations/ });
  await expect(row).toContainText('Active');
  await row.getByLabel('Signing secret for Support escalations').fill(SIGNING_SECRET);
  await row.getByRole('button', { name: 'Turn on buttons' }).click();
  await expect(row).toContainText('Answer buttons on');
  const answersUrl = (await row.locator('code', { hasText: '/integrations/slack/' }).textContent())!;
  expect(answersUrl).toMatch(new RegExp(`^${BASE}/integrations/slack/[0-9a-f-]{36}$`));

  // An escalation is posted with Respond & Resume and Dismiss.
  await page.goto(thread);
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await page.getByRole('button', { name: 'Send' }).click();
  const card = page.getByRole('article', { name: 'Escalation' });
  await expect(card.getByRole('list', { name: 'Notifications' })).toContainText('Sent to Support escalations');
  const posted = slack.calls.find((c) => c.path === '/api/chat.postMessage')!;
  const buttons = posted.body.blocks[2].elements;
  expect(buttons.map((b: any) => b.text.text)).toEqual(['Respond & Resume', 'Dismiss', 'Open in Flare']);
  const escalation = buttons[1].value;

  // Unlinked: Slack is asked to tell the clicker, privately, where to link.
  await click(answersUrl, `${slack.url}/respond`, 'flare_dismiss', escalation);
  await expect.poll(() => slack.calls.filter((c) => c.path === '/respond').length).toBe(1);
  const reply = slack.calls.find((c) => c.path === '/respond')!.body;
  expect(reply.response_type).toBe('ephemeral');
  const link = reply.text.match(/<([^|>]+)\|Link my account>/)[1];
  expect(link).toContain(`${BASE}/app/settings/account?link=`);

  // The link, opened signed in: confirmed with a button, never by the visit alone.
  await page.goto(link);
  await hydrated(page);
  const links = page.getByRole('region', { name: 'Linked chat accounts' });
  await expect(links).toContainText('Link the Slack account ada (U0E2E0001, workspace T0E2E0001)');
  await expect(links).toContainText('No linked accounts.');
  await links.getByRole('button', { name: 'Link my Slack account' }).click();
  await expect(links.getByRole('status')).toContainText('Linked');
  await expect(links.getByRole('list', { name: 'Linked accounts' })).toContainText('U0E2E0001');

  // Linked: the click dismisses, and the card says so live.
  await page.goto(thread);
  await hydrated(page);
  await click(answersUrl, `${slack.url}/respond`, 'flare_dismiss', escalation);
  await expect(card).toContainText('Dismissed by');
  await expect.poll(() => slack.calls.some((c) => c.path === '/api/chat.update')).toBe(true);

  // The channel's agent answers what people write to the bot, in the same Slack thread.
  await page.goto('/app/settings/notifications');
  await hydrated(page);
  await row.getByLabel('Agent answering messages in Support escalations').selectOption({ label: agent });
  await row.getByRole('button', { name: 'Save the agent for Support escalations' }).click();
  const eventsUrl = row.locator('code', { hasText: '/events' });
  await expect(eventsUrl).toHaveText(`${answersUrl}/events`);
  const ts = '1700000500.000100';
  await slackEvent(`${answersUrl}/events`, {
    type: 'event_callback',
    event_id: 'Ev0E2E0001',
    event: { type: 'app_mention', channel: 'C0E2E00001', user: 'U0E2E0001', ts, text: '<@U0E2EBOT> What are your opening hours?' },
  });
  await expect
    .poll(() => slack.calls.filter((c) => c.path === '/api/chat.postMessage' && c.body.thread_ts === ts).length)
    .toBe(1);
  await page.goto('/app/chat');
  await hydrated(page);
  await expect(page.getByText('Slack: Support escalations').first()).toBeVisible();
  slack.close();
  expect(problems).toEqual([]);
});
