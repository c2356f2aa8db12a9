import { expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { createInterface } from 'readline';
import { OWNER, bin, flareEnv } from '../playwright.config';

/** Starts a Flare of the test's own (an owner and the demo data, and `extra` settings) on `port`; resolves once it answers. */
export async function launchFlare(port: number, db: string, extra: Record<string, string> = {}): Promise<ChildProcess> {
  const flare = spawn(bin, [], {
    env: {
      ...process.env,
      ...flareEnv(port, db, {
        FLARE_ADMIN_EMAIL: OWNER.email,
        FLARE_ADMIN_PASSWORD: OWNER.password,
        FLARE_DEMO: '1',
        ...extra,
      }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return flare;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  flare.kill('SIGKILL');
  throw new Error('flare did not start');
}

/** Stops a Flare started by `launchFlare` (if still running) and waits for it to exit. */
export async function stopFlare(flare: ChildProcess | undefined, signal: NodeJS.Signals) {
  if (flare && flare.exitCode === null) {
    const exited = new Promise((r) => flare.once('exit', r));
    flare.kill(signal);
    await exited;
  }
}

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


/** On the (signed-in) Tokens page, creates a token of `kind` for Support named `name`; returns its value, shown once. */
export async function createToken(page: Page, kind: string, name: string): Promise<string> {
  await page.goto('/app/settings/tokens');
  await expect(page.getByRole('heading', { name: 'Tokens', exact: true })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Token name').fill(name);
  await page.getByLabel('Kind').selectOption({ label: kind });
  await page.getByLabel('Team', { exact: true }).selectOption({ label: 'Support' });
  await page.getByRole('button', { name: 'Create token' }).click();
  return page.getByRole('textbox', { name: 'Token', exact: true }).inputValue();
}

export const RULE = 'Always escalate any request involving refunds, account deletions, or threats of legal action.';
export const MESSAGE = 'A customer named John is asking for a full refund on order #1234. Draft my response.';

/** Signs in as the owner, creates `name` with the tutorial's rule, opens a chat with it. */
export async function openChat(page: Page, name: string) {
  await newAgent(page, name);
  await page.getByRole('textbox', { name: 'Description' }).fill(RULE);
  await expect(page.getByRole('status')).toHaveText('Saved');
  await page.getByRole('link', { name: 'Chat with this agent' }).click();
  await expect(page.getByRole('heading', { name: 'Start a chat' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await expect(page).toHaveURL(/\/app\/chat\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: `Chat with ${name}` })).toBeVisible();
  await hydrated(page);
}


export type Mail = { rcpt_tos: string[]; headers: Record<string, string>; text: string };

/** Starts the SMTP server; resolves with its port and the mails it accepted (as they come). */
export async function smtpSink(): Promise<{ port: number; mails: Mail[]; stop: () => void }> {
  const cache = process.env.FLARE_CACHE ?? path.join(os.homedir(), '.cache', 'flare');
  const sink = spawn('python3', [path.resolve(__dirname, '../../tests/support/smtp_sink.py')], {
    env: { ...process.env, PYTHONPATH: path.join(cache, 'tools', 'python') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const mails: Mail[] = [];
  const lines = createInterface({ input: sink.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the SMTP server did not start')), 20_000);
    lines.on('line', (line) => {
      const v = JSON.parse(line);
      if (v.port) {
        clearTimeout(timer);
        resolve(v.port);
      } else {
        mails.push(v);
      }
    });
  });
  return { port, mails, stop: () => sink.kill() };
}

/** Starts a Dovecot of the test's own (tests/support/imap_server.py, which the test command's
 * Dovecot runs); resolves with its port and a way to put a mail in its INBOX. */
export async function imapServer(): Promise<{ port: number; user: string; password: string; deliver: (raw: string) => Promise<void>; stop: () => void }> {
  const server = spawn('python3', [path.resolve(__dirname, '../../tests/support/imap_server.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: server.stdout! });
  const waiting: ((v: any) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () =>
    new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the IMAP server did not answer within 20 s')), 20_000);
      waiting.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  const first = await next();
  return {
    port: first.port,
    user: first.user,
    password: first.password,
    deliver: async (raw: string) => {
      const done = next();
      server.stdin!.write(JSON.stringify(raw) + '\n');
      await done;
    },
    // Closing its stdin lets it stop Dovecot and remove its folder.
    stop: () => server.stdin!.end(),
  };
}

