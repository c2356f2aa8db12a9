import { test, expect } from '@playwright/test';
import { ChildProcess } from 'child_process';
import { RULE, hydrated, imapServer, launchFlare, newAgent, smtpSink, stopFlare, watchConsole } from './helpers';

// Issue 16: email as a trigger. A Flare of this test's own reads an agent's mailbox on a real
// IMAP server (Dovecot) and answers through a real SMTP server (aiosmtpd).
const PORT = 3106;
const BASE = `http://127.0.0.1:${PORT}`;
test.use({ baseURL: BASE });

let flare: ChildProcess | undefined;
test.afterAll(async () => stopFlare(flare, 'SIGTERM'));

test('a mailbox is connected on the Triggers page and a mail to it is answered in its thread', async ({ page }) => {
  test.setTimeout(90_000);
  const smtp = await smtpSink();
  const imap = await imapServer();
  flare = await launchFlare(PORT, 'mailbox.db', {
    FLARE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
    FLARE_MAIL_FROM: 'Flare <flare@example.com>',
    FLARE_MAIL_CHECK_MS: '300',
  });
  // The wrong password is refused with a 400, on purpose.
  const problems = watchConsole(page, [400]);
  const agent = `Inbox Agent ${Date.now()}`;
  await newAgent(page, agent);
  await page.getByRole('textbox', { name: 'Description' }).fill(RULE);
  await expect(page.getByRole('status')).toHaveText('Saved');
  await page.getByRole('link', { name: 'Triggers', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Triggers', exact: true })).toBeVisible();
  await hydrated(page);

  const form = page.getByRole('region', { name: 'Connect a mailbox' });
  await form.getByLabel('Mailbox name').fill('Support inbox');
  await form.getByLabel("The agent's email address").fill('support@acme.test');
  await form.getByLabel('IMAP server').fill('127.0.0.1');
  await form.getByLabel('Port').fill(String(imap.port));
  await form.getByLabel('Security').selectOption('none');
  await form.getByLabel('User name').fill(imap.user);
  await form.getByLabel('Password').fill('not-the-password');
  await form.getByRole('button', { name: 'Connect mailbox' }).click();
  await expect(form.getByRole('alert')).toContainText('the IMAP server refused the login');
  await form.getByLabel('Password').fill(imap.password);
  await form.getByRole('button', { name: 'Connect mailbox' }).click();
  const row = page.getByRole('row', { name: /Support inbox/ });
  await expect(row).toContainText('Email');
  await expect(row).toContainText(`support@acme.test (127.0.0.1:${imap.port}, INBOX)`);

  await imap.deliver(
    'From: Ana Ruiz <ana@example.com>\nTo: support@acme.test\nSubject: Opening hours\nMessage-ID: <e2e-1@example.com>\n\nWhat are your opening hours?\n',
  );
  await expect.poll(() => smtp.mails.length, { timeout: 15_000 }).toBe(1);
  const reply = smtp.mails[0];
  expect(reply.rcpt_tos).toEqual(['ana@example.com']);
  expect(reply.headers['Subject']).toBe('Re: Opening hours');
  expect(reply.headers['In-Reply-To']).toBe('<e2e-1@example.com>');
  expect(reply.headers['From']).toContain(`${agent} <support@acme.test>`);

  await page.goto('/app/chat');
  await hydrated(page);
  await expect(page.getByText('Email: Opening hours').first()).toBeVisible();
  imap.stop();
  smtp.stop();
  expect(problems).toEqual([]);
});
