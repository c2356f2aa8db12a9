import { test, expect } from '@playwright/test';
import { createHmac } from 'crypto';
import { createServer, IncomingHttpHeaders } from 'http';
import { AddressInfo } from 'net';
import { MESSAGE, hydrated, openChat, watchConsole } from './helpers';

type Got = { headers: IncomingHttpHeaders; body: string };

/** A local endpoint standing in for the team's webhook receiver: records and answers 200. */
async function receiver(): Promise<{ url: string; got: Got[]; close: () => void }> {
  const got: Got[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/flare`, got, close: () => server.close() };
}

function signedWith(g: Got, secret: string): boolean {
  const ts = String(g.headers['x-flare-timestamp']);
  const mac = createHmac('sha256', secret).update(`${ts}.${g.body}`).digest('hex');
  return g.headers['x-flare-signature'] === `sha256=${mac}`;
}

// Issue 16: a webhook channel added on Settings → Notifications, tested from the page, gets the
// escalation raised in a chat, signed; the card and the Escalations row say it was sent.
test('a webhook channel is added, tested, notified of an escalation, and the card says so', async ({ page }) => {
  const problems = watchConsole(page);
  const hook = await receiver();
  const agent = `Notified Agent ${Date.now()}`;
  const channel = `Ops hook ${Date.now()}`;
  await openChat(page, agent);
  const thread = page.url();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Notifications', exact: true })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Channel name', { exact: true }).fill(channel);
  await page.getByLabel('URL', { exact: true }).fill(hook.url);
  await page.getByLabel('Lowest severity', { exact: true }).selectOption({ label: 'Info and above' });
  await page.getByLabel('Team', { exact: true }).selectOption({ label: 'Support' });
  await page.getByRole('button', { name: 'Add channel' }).click();
  const secret = await page.getByRole('textbox', { name: 'Signing secret' }).inputValue();
  expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
  const row = page.getByRole('row', { name: new RegExp(channel) });
  await expect(row).toContainText('Active');
  await expect(row).toContainText(hook.url);

  await row.getByRole('button', { name: `Send test to ${channel}` }).click();
  await expect(page.getByText(`Test to ${channel}: delivered (HTTP 200 in`)).toBeVisible();
  expect(hook.got).toHaveLength(1);
  expect(JSON.parse(hook.got[0].body).event).toBe('test');
  expect(signedWith(hook.got[0], secret)).toBe(true);

  // An escalation in the chat reaches it, and the card says so, live.
  await page.goto(thread);
  await expect(page.getByRole('heading', { name: `Chat with ${agent}` })).toBeVisible();
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await page.getByRole('button', { name: 'Send' }).click();
  const card = page.getByRole('article', { name: 'Escalation' });
  await expect(card.getByRole('list', { name: 'Notifications' })).toContainText(`Sent to ${channel}`);
  await expect.poll(() => hook.got.length).toBe(2);
  const raised = hook.got[1];
  expect(signedWith(raised, secret)).toBe(true);
  const body = JSON.parse(raised.body);
  expect(body.event).toBe('escalation.raised');
  expect(body.escalation.agent).toBe(agent);
  expect(body.url).toContain(new URL(page.url()).pathname);

  // "Remind me in 1 h" says until when.
  await card.getByRole('button', { name: 'Remind me in 1 h' }).click();
  await expect(card).toContainText('Reminder snoozed until');

  await page.goto('/app/escalations');
  await hydrated(page);
  await expect(page.getByRole('row', { name: new RegExp(agent) })).toContainText(`Sent to ${channel}`);

  // Support's SLAs: saved and shown again.
  await page.goto('/app/settings/notifications');
  await hydrated(page);
  const slas = page.getByRole('region', { name: 'SLAs for Support' });
  await slas.getByLabel('Warning (minutes)').fill('240');
  await slas.getByLabel('Fallback channel').selectOption({ label: channel });
  await slas.getByRole('button', { name: 'Save SLAs' }).click();
  await page.reload();
  await hydrated(page);
  await expect(slas.getByLabel('Warning (minutes)')).toHaveValue('240');
  await slas.getByLabel('Warning (minutes)').fill('');
  await slas.getByLabel('Fallback channel').selectOption({ label: 'None' });
  await slas.getByRole('button', { name: 'Save SLAs' }).click();
  await expect(slas.getByLabel('Warning (minutes)')).toHaveValue('');

  // Muted, then deleted: other tests' escalations are not sent to a receiver that is gone.
  await row.getByRole('button', { name: `Mute ${channel}` }).click();
  await expect(row).toContainText('Muted');
  await row.getByRole('button', { name: `Delete ${channel}` }).click();
  await expect(row).toHaveCount(0);
  hook.close();
  expect(problems).toEqual([]);
});
