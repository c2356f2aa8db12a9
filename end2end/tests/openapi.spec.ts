import { test, expect } from '@playwright/test';
import Ajv2020 from 'ajv/dist/2020';
import { MAIN_URL } from '../playwright.config';
import { RULE, MESSAGE, createToken, newAgent } from './helpers';

// Issue 13: GET /api/v1/openapi.json is a valid OpenAPI 3.1 document (checked against the
// specification's own JSON Schema), and what the API really answers matches it.
test('the OpenAPI document validates and describes what the API answers', async ({ browser }) => {
  const res = await fetch(`${MAIN_URL}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  const doc = await res.json();
  expect(doc.openapi).toBe('3.1.0');

  // ESM only: loaded as a module whatever Playwright compiles this file to.
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const checked = await new Validator().validate(structuredClone(doc));
  expect(checked.errors ?? []).toEqual([]);
  expect(checked.valid).toBe(true);

  // Each component schema under its own id, its references rewritten to match.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // OpenAPI's own formats for integers.
  ajv.addFormat('int64', { type: 'number', validate: Number.isSafeInteger });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
  const base = 'https://flare.invalid/schemas/';
  const rebased = (s: unknown) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/schemas/', `"${base}`));
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(rebased(schema), base + name);
  // Checks an answer against what the document says `method path` answers with its status.
  const conforms = async (method: string, path: string, reply: Response) => {
    const documented = doc.paths[path]?.[method]?.responses?.[String(reply.status)];
    expect(documented, `${method} ${path} answered ${reply.status}, which it does not document`).toBeTruthy();
    const body = await reply.json();
    const validate = ajv.compile(rebased(documented.content['application/json'].schema));
    expect(validate(body), `${method} ${path} ${reply.status}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(body)}`).toBe(true);
    return body;
  };

  // A read-and-write token and an agent whose rule escalates the test's message.
  const agent = `API Agent ${Date.now()}`;
  const admin = await (await browser.newContext()).newPage();
  await newAgent(admin, agent);
  await admin.getByRole('textbox', { name: 'Description' }).fill(RULE);
  await expect(admin.getByRole('status')).toHaveText('Saved');
  const token = await createToken(admin, 'API (read and write)', `Bridge ${Date.now()}`);
  expect(token).toMatch(/^flr_api_rw_[0-9a-f]{64}$/);
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${MAIN_URL}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const agents = await conforms('get', '/api/v1/agents', await call('GET', '/api/v1/agents'));
  const id = agents.agents.find((a: { name: string }) => a.name === agent).id;
  const runs = '/api/v1/agents/{agent_id}/runs';
  const started = await conforms('post', runs, await call('POST', `/api/v1/agents/${id}/runs`, { message: MESSAGE }));
  const run = () => call('GET', `/api/v1/runs/${started.run_id}`);
  await expect.poll(async () => (await (await run()).json()).status, { timeout: 5000 }).toBe('waiting');
  const waiting = await conforms('get', '/api/v1/runs/{run_id}', await run());
  expect(waiting.trigger).toBe('api');

  const escalation = waiting.escalation.id;
  await conforms('get', '/api/v1/escalations', await call('GET', '/api/v1/escalations?status=open&limit=5'));
  await conforms('get', '/api/v1/escalations/{id}', await call('GET', `/api/v1/escalations/${escalation}`));
  const answered = await conforms(
    'post',
    '/api/v1/escalations/{id}/respond',
    await call('POST', `/api/v1/escalations/${escalation}/respond`, { guidance: 'Refund it.' }),
  );
  expect(answered.status).toBe('resolved');
  // The later answer, a bad body and a missing token: each in the one error shape.
  const late = await conforms('post', '/api/v1/escalations/{id}/dismiss', await call('POST', `/api/v1/escalations/${escalation}/dismiss`));
  expect(late.error).toBe('This escalation is already resolved.');
  await conforms('post', runs, await call('POST', `/api/v1/agents/${id}/runs`, { text: 'no message field' }));
  await conforms('get', '/api/v1/agents', await fetch(`${MAIN_URL}/api/v1/agents`));
  await expect.poll(async () => (await (await run()).json()).status, { timeout: 5000 }).toBe('completed');
  await conforms('get', '/api/v1/runs/{run_id}', await run());
});
