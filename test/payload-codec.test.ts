// Payload encryption (temporal.payload_encryption): the codec on its own, a real workflow whose
// history on the server holds only ciphertext while the client reads the result, and the codec
// server the Temporal UI would call.
import { randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecServer } from '../cli/codec-server.ts';
import { ConfigError, type Config } from '../worker/config.ts';
import { AesGcmCodec, payloadCodecs } from '../worker/payload-codec.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { healthCheck } from '../workflows/index.ts';
import { timeSuffix, workflowId } from '../workflows/ids.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { rememberSecret } from './support/secrets.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

const key = () => randomBytes(32);
const json = (value: unknown): Payload => ({ metadata: { [METADATA_ENCODING_KEY]: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) });
const text = (p: Payload) => Buffer.from(p.data ?? []).toString('utf8');

describe('AesGcmCodec', () => {
  const codec = new AesGcmCodec('k1', new Map([['k1', key()]]));

  it('round-trips payloads, metadata included, and hides their content', async () => {
    const [sealed] = await codec.encode([json({ secret: 'in the clear' })]);
    expect(Buffer.from(sealed!.metadata![METADATA_ENCODING_KEY]!).toString()).toBe('binary/encrypted');
    expect(text(sealed!)).not.toContain('in the clear');
    const [opened] = await codec.decode([sealed!]);
    expect(JSON.parse(text(opened!))).toEqual({ secret: 'in the clear' });
    expect(Buffer.from(opened!.metadata![METADATA_ENCODING_KEY]!).toString()).toBe('json/plain');
  });

  it('refuses a tampered payload, a payload of an unknown key, and passes unencrypted ones through', async () => {
    const [sealed] = await codec.encode([json('x')]);
    const tampered = { ...sealed!, data: Buffer.from(sealed!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([tampered])).rejects.toThrow(/does not authenticate/);
    const other = new AesGcmCodec('k2', new Map([['k2', key()]]));
    await expect(other.decode([sealed!])).rejects.toThrow(/encrypted with key 'k1'/);
    const plain = json('plain');
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('is configured by the env variable the config names, and refuses a missing or malformed key', () => {
    const config = { temporal: { payload_encryption: { key_env: 'PGGIT_OPS_TEST_KEY', key_id: 'default' } } } as Config;
    expect(payloadCodecs({ temporal: {} } as Config)).toEqual([]);
    expect(payloadCodecs(config, { PGGIT_OPS_TEST_KEY: key().toString('base64') })).toHaveLength(1);
    expect(() => payloadCodecs(config, {})).toThrow(ConfigError);
    expect(() => payloadCodecs(config, {})).toThrow(/PGGIT_OPS_TEST_KEY is not set/);
    expect(() => payloadCodecs(config, { PGGIT_OPS_TEST_KEY: randomBytes(16).toString('base64') })).toThrow(/32 bytes in base64/);
  });
});

describe('an encrypted workflow on the real server', () => {
  let pgs: TestPostgres;
  beforeAll(async () => {
    pgs = await startPostgres();
  });
  afterAll(() => pgs?.stop());

  it('keeps only ciphertext in the history; the client and the codec server decode it', async () => {
    const keyEnv = `PGGIT_OPS_TEST_PAYLOAD_KEY_${randomBytes(3).toString('hex')}`;
    process.env[keyEnv] = key().toString('base64');
    rememberSecret(process.env[keyEnv]!);
    const loaded = testConfig({ app: pgs.connection }, { temporal: { payload_encryption: { key_env: keyEnv } } });
    const id = workflowId('health-check', 'app', timeSuffix());
    const facts = await withWorkers(loaded, (client) =>
      client.workflow.execute(healthCheck, { taskQueue: loaded.config.temporal.task_queues.checks, workflowId: id, args: [{ target: 'app' }] }),
    );
    expect(facts.serverVersion).toMatch(/^15\./);

    const client = await connectClient(loaded);
    try {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const completed = history.events!.find((e) => e.workflowExecutionCompletedEventAttributes)!.workflowExecutionCompletedEventAttributes!;
      const raw = completed.result!.payloads![0]!;
      expect(Buffer.from(raw.metadata![METADATA_ENCODING_KEY]!).toString()).toBe('binary/encrypted');
      expect(JSON.stringify(history)).not.toContain(facts.serverVersion);

      const [codec] = payloadCodecs(loaded.config);
      const token = randomBytes(8).toString('hex');
      rememberSecret(token);
      const server = await startCodecServer({ codec: codec!, host: '127.0.0.1', port: 0, origins: ['http://127.0.0.1:8233'], token });
      try {
        const body = JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('binary/encrypted').toString('base64'), 'encryption-key-id': Buffer.from('default').toString('base64') }, data: Buffer.from(raw.data!).toString('base64') }] });
        const headers = { 'Content-Type': 'application/json', Origin: 'http://127.0.0.1:8233', 'X-Namespace': 'default' };
        const refused = await fetch(`${server.url}/decode`, { method: 'POST', headers, body });
        expect(refused.status).toBe(401);
        const decoded = await fetch(`${server.url}/some/prefix/decode`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${token}` }, body });
        expect(decoded.status).toBe(200);
        expect(decoded.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
        const { payloads } = (await decoded.json()) as { payloads: Array<{ data: string }> };
        expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString('utf8'))).toMatchObject({ target: 'app', serverVersion: facts.serverVersion });
        const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      } finally {
        await server.close();
      }
    } finally {
      await client.connection.close();
    }
  });
});
