import { test, expect } from '@playwright/test';
import { hydrated, newAgent, watchConsole } from './helpers';

// Settings → Models in the browser: add a keyless connection, test it (nothing listens on its
// port, and the page says so), pick one of its models on an agent's page, then delete it: the
// agent's page says it fell back to the default.
test('an admin adds a connection, an agent picks its model, and deleting it shows the fallback', async ({ page }) => {
  const problems = watchConsole(page);
  await newAgent(page, 'Model Picker Agent');
  const agentUrl = page.url();
  await expect(page.getByText('Answers with: Flare rules (offline)')).toBeVisible();

  await page.goto('/app/settings/models');
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  await hydrated(page);
  const form = page.getByRole('region', { name: 'Add a connection' });
  await form.getByLabel('Connection name').fill('Local Ollama');
  await form.getByLabel('Kind').selectOption({ label: 'OpenAI-compatible' });
  await form.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await form.getByLabel('Models').fill('llama3, mistral');
  await form.getByRole('button', { name: 'Add connection' }).click();
  const row = page.getByRole('row').filter({ hasText: 'Local Ollama' });
  await expect(row).toContainText('llama3, mistral');
  await expect(row).toContainText('none');
  await page.getByRole('button', { name: 'Test Local Ollama' }).click();
  await expect(page.getByRole('status')).toContainText('Not connected:', { timeout: 30_000 });

  await page.goto(agentUrl);
  await hydrated(page);
  await page.getByLabel('Connection and model').selectOption({ label: 'Local Ollama · mistral' });
  await page.getByRole('button', { name: 'Use this model' }).click();
  await expect(page.getByText("Done: Local Ollama · mistral answers from this agent's next message on.")).toBeVisible();
  await page.reload();
  await expect(page.getByText('Answers with: Local Ollama · mistral')).toBeVisible();

  await page.goto('/app/settings/models');
  await hydrated(page);
  await expect(page.getByRole('row').filter({ hasText: 'Local Ollama' })).toContainText('Model Picker Agent');
  await page.getByRole('button', { name: 'Delete Local Ollama' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'Local Ollama' })).toHaveCount(0);

  await page.goto(agentUrl);
  await hydrated(page);
  await expect(page.getByRole('alert')).toContainText('“Local Ollama” was deleted');
  await expect(page.getByText('Answers with: Flare rules (offline)')).toBeVisible();
  expect(problems).toEqual([]);
});
