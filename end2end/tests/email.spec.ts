import { test, expect } from '@playwright/test';
import { ChildProcess } from 'child_process';
import { MESSAGE, hydrated, launchFlare, openChat, smtpSink, stopFlare, watchConsole } from './helpers';

// Issue 16: email channels. A Flare of this test's own mails through a real SMTP server
// (aiosmtpd, which the test command installs), run by tests/support/smtp_sink.py.
const PORT = 3105;
const BASE = `http://127.0.0.1:${PORT}`;
test.use({ baseURL: BASE });

let flare: ChildProcess | undefined;
test.afterAll(async () => stopFlare(flare, 'SIGTERM'));

test('an email channel is added, tested, and mails an escalation with a link to its card', async ({ page }) => {
  test.setTimeout(90_000);
  const smtp = await smtpSink();
  flare = await launchFlare(PORT, 'email.db', {
    FLARE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
    FLARE_MAIL_FROM: 'Flare <flare@example.com>',
    FLARE_PUBLIC_URL: BASE,
  });
  // The refused address answers 400, on purpose.
  const problems = watchConsole(page, [400]);
  const agent = `Mail Agent ${Date.now()}`;
  await openChat(page, agent);
  const thread = page.url();

  // A bad address is refused in words; then the channel is added and tested.
  await page.goto('/app/settings/notifications');
  await hydrated(page);
  await page.getByLabel('Email channel name').fill('On-call mail');
  await page.getByLabel('Recipients').fill('oncall@example.com, not an address');
  await page.getByLabel('Team to mail for').selectOption({ label: 'Support' });
  await page.getByRole('button', { name: 'Add email channel' }).click();
  const form = page.getByRole('region', { name: 'Add an email channel' });
  await expect(form.getByRole('alert')).toContainText('“not an address” is not an email address.');
  await page.getByLabel('Recipients').fill('oncall@example.com; ada@example.com');
  await page.getByRole('button', { name: 'Add email channel' }).click();
  const row = page.getByRole('row', { name: /On-call mail/ });
  await expect(row).toContainText('oncall@example.com, ada@example.com');
  await row.getByRole('button', { name: 'Send test to On-call mail' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Test to On-call mail' })).toContainText(
    /delivered \(SMTP 250 in \d+ ms\)/,
  );
  await expect.poll(() => smtp.mails.length).toBe(1);

  // An escalation is mailed to both, with the card's link, and the card says so.
  await page.goto(thread);
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
  await page.getByRole('button', { name: 'Send' }).click();
  const card = page.getByRole('article', { name: 'Escalation' });
  await expect(card.getByRole('list', { name: 'Notifications' })).toContainText('Sent to On-call mail');
  await expect.poll(() => smtp.mails.length).toBe(2);
  const mail = smtp.mails[1];
  expect(mail.rcpt_tos).toEqual(['oncall@example.com', 'ada@example.com']);
  expect(mail.headers['Subject']).toContain(`Agent Needs Help — ${agent}`);
  const link = mail.text.match(/Open the card: (\S+)/)![1];
  expect(link.startsWith(`${thread}#escalation-`)).toBe(true);
  smtp.stop();
  expect(problems).toEqual([]);
});
