import { defineConfig } from '@playwright/test';
import * as path from 'path';

// One shared Flare server with a fresh SQLite file, an owner and demo data; tests that need
// another (no admin yet, restarts) start their own. scripts/test sets FLARE_BIN, FLARE_SITE_ROOT and FLARE_E2E_DIR.
export const bin = process.env.FLARE_BIN ?? '../target/debug/flare';
const siteRoot = process.env.FLARE_SITE_ROOT ?? path.resolve(__dirname, '../target/site');
const dataDir = process.env.FLARE_E2E_DIR ?? '/tmp/flare-e2e';

export const OWNER = { email: 'owner@example.com', password: 'owner-password-1' };
export const MAIN_URL = 'http://127.0.0.1:3101';
export const EMPTY_URL = 'http://127.0.0.1:3102';

/** The environment of a Flare server on `port` with the SQLite file `db` (tests that restart a server start their own). */
export function flareEnv(port: number, db: string, extra: Record<string, string>): Record<string, string> {
  return {
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: siteRoot,
    DATABASE_URL: `sqlite://${dataDir}/${db}`,
    RUST_LOG: 'warn',
    ...extra,
  };
}

function server(port: number, db: string, extra: Record<string, string>) {
  return {
    command: bin,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    env: flareEnv(port, db, extra),
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  // A stuck run fails here, well inside scripts/test's limit for the step.
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  use: {
    baseURL: MAIN_URL,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: [
    server(3101, 'main.db', {
      FLARE_ADMIN_EMAIL: OWNER.email,
      FLARE_ADMIN_PASSWORD: OWNER.password,
      FLARE_DEMO: '1',
    }),
  ],
});
