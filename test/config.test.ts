// Config loading: defaults, env overrides, and errors that name the offending key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionConfig } from '../activities/targets.ts';
import { ConfigError, loadConfig, targets } from '../worker/config.ts';
import { temporalConnectionOptions } from '../worker/temporal-connection.ts';
import { currentIdentity } from '../cli/identity.ts';
import { projectRoot } from '../worker/tools.ts';

function configFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pggit-ops-cfg-')), 'pggit-ops.config.yaml');
  writeFileSync(file, text);
  return file;
}

function loadError(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig({ file: configFile(text), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('has working defaults without a file, including the local target', () => {
    const { config, file } = loadConfig({ env: {}, cwd: mkdtempSync(path.join(tmpdir(), 'pggit-ops-empty-')) });
    expect(file).toBeUndefined();
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', task_queues: { checks: 'pggit-ops-checks', jobs: 'pggit-ops-jobs' } });
    expect(targets(config).local).toMatchObject({ host: '127.0.0.1', port: 55432, database: 'local', password_env: 'PGGIT_OPS_LOCAL_PGPASSWORD' });
  });

  it('names the key of a bad value', () => {
    expect(loadError('targets:\n  prod:\n    host: db\n    port: 99999\n')).toMatch(/targets\.prod\.port: Too big/);
    expect(loadError('temporal:\n  address: "no port here"\n')).toMatch(/temporal\.address: must be host:port/);
    expect(loadError('targets:\n  prod:\n    host: db\n    password_env: "not a name"\n')).toMatch(/targets\.prod\.password_env: must be an environment variable name/);
    expect(loadError('temporal:\n  adress: x:1\n')).toMatch(/temporal.*adress/);
  });

  it('refuses target names that would break workflow ids', () => {
    expect(loadError('targets:\n  "prod/eu":\n    host: db\n')).toMatch(/targets\.prod\/eu/);
  });

  it('refuses a target with both a URL and host fields, or neither', () => {
    expect(loadError('targets:\n  a:\n    url_env: A_URL\n    host: db\n')).toMatch(/targets\.a: use either url_env or host/);
    expect(loadError('targets:\n  a:\n    port: 5432\n')).toMatch(/targets\.a: needs url_env or host/);
  });

  it('says which env variable holds a bad override', () => {
    expect(loadError('{}', { TEMPORAL_ADDRESS: 'bad address' })).toMatch(/temporal\.address \(from env TEMPORAL_ADDRESS\)/);
    expect(loadError('{}', { TEMPORAL_TLS: 'maybe' })).toMatch(/TEMPORAL_TLS=maybe/);
  });

  it('applies Temporal env overrides over the file', () => {
    const file = configFile('temporal:\n  address: file-host:7233\n  namespace: from-file\n');
    const { config } = loadConfig({ file, env: { TEMPORAL_ADDRESS: 'env-host:7234', TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_NAME: 'ns.tmprl.cloud' } });
    expect(config.temporal.address).toBe('env-host:7234');
    expect(config.temporal.namespace).toBe('from-file');
    expect(config.temporal.tls).toEqual({ server_name: 'ns.tmprl.cloud' });
  });

  it('reports invalid YAML and a missing file with the file name', () => {
    expect(loadError('targets: [unclosed')).toMatch(/invalid YAML/);
    expect(() => loadConfig({ file: '/nonexistent/pggit-ops.config.yaml', env: {} })).toThrow(/\/nonexistent\/pggit-ops\.config\.yaml/);
  });
});

describe('secrets by name', () => {
  const { config } = loadConfig({
    file: configFile('targets:\n  prod:\n    host: db.internal\n    database: app\n    password_env: PROD_PW\n  viaurl:\n    url_env: PROD_URL\n'),
    env: {},
  });

  it('reads the password from the env var the target names, inside the worker', () => {
    expect(connectionConfig(config, 'prod', { PROD_PW: 's3cret' })).toMatchObject({ host: 'db.internal', port: 5432, database: 'app', password: 's3cret' });
    expect(connectionConfig(config, 'viaurl', { PROD_URL: 'postgresql://u:p@h/d' })).toMatchObject({ host: 'h', user: 'u', password: 'p', database: 'd', url: 'postgresql://u:p@h/d' });
  });

  it('decodes a URL target\'s database name as libpq does (node-postgres alone leaves %3B, %3D, %2F encoded)', () => {
    const url = 'postgresql://u@h:6543/Ops%20%3B%3D%2F%3F%25%22x%22%20b%C4%B1g?sslmode=disable';
    expect(connectionConfig(config, 'viaurl', { PROD_URL: url })).toMatchObject({ host: 'h', port: 6543, database: 'Ops ;=/?%"x" bıg' });
  });

  it('fails clearly when the secret is missing or the target unknown', () => {
    expect(() => connectionConfig(config, 'prod', {})).toThrow("target 'prod': env PROD_PW (targets.prod.password_env) is not set");
    expect(() => connectionConfig(config, 'viaurl', {})).toThrow("target 'viaurl': env PROD_URL (targets.viaurl.url_env) is not set");
    expect(() => connectionConfig(config, 'staging', {})).toThrow("unknown target 'staging' (configured: local, prod, viaurl)");
  });

  it('takes the Temporal API key from the named env var and turns TLS on for it', () => {
    const loaded = loadConfig({ file: configFile('temporal:\n  address: ns.a1b2.tmprl.cloud:7233\n  api_key_env: MY_KEY\n'), env: {} });
    expect(temporalConnectionOptions(loaded, { MY_KEY: 'k-123' })).toEqual({ address: 'ns.a1b2.tmprl.cloud:7233', apiKey: 'k-123', tls: {} });
    expect(temporalConnectionOptions(loaded, {})).toEqual({ address: 'ns.a1b2.tmprl.cloud:7233' });
  });

  it('names the TLS file it cannot read', () => {
    const loaded = loadConfig({ file: configFile('temporal:\n  tls:\n    client_cert_path: missing.crt\n    client_key_path: missing.key\n'), env: {} });
    expect(() => temporalConnectionOptions(loaded, {})).toThrow(/temporal\.tls\.client_cert_path: cannot read missing\.crt/);
  });
});

describe('the example config', () => {
  it('is valid, and its demo tokens identify their people', () => {
    const { config } = loadConfig({ file: path.join(projectRoot, 'pggit-ops.config.example.yaml'), env: {} });
    expect(config.people.groups).toEqual({ dba: ['alice', 'bob'], security: ['carol'] });
    expect(currentIdentity(config, { PGGIT_OPS_OPERATOR_TOKEN: 'demo-token-bob' })).toBe('bob');
    expect(() => currentIdentity(config, { PGGIT_OPS_OPERATOR_TOKEN: 'demo-token-mallory' })).toThrow(/matches no user/);
  });

  it('refuses a group member who is not a user', () => {
    expect(loadError('people:\n  users: { alice: {} }\n  groups: { dba: [alice, eve] }\n')).toMatch(/people\.groups\.dba\.1: unknown user 'eve'/);
  });
});

describe('config: dashboard and notifications', () => {
  it('names the key of a bad webhook or password hash', () => {
    expect(loadError('notifications:\n  webhooks:\n    - { name: a, url_env: A_URL }\n    - { name: a, url_env: B_URL }\n')).toMatch(/notifications\.webhooks\.1\.name: duplicate webhook name 'a'/);
    expect(loadError('notifications:\n  webhooks:\n    - { name: a, url_env: "https://hooks.example/secret" }\n')).toMatch(/notifications\.webhooks\.0\.url_env: must be an environment variable name/);
    expect(loadError('notifications:\n  webhooks:\n    - { name: a, url_env: A, min_severity: info }\n')).toMatch(/notifications\.webhooks\.0\.min_severity/);
    expect(loadError('people:\n  users:\n    alice: { password_scrypt: hunter2 }\n')).toMatch(/people\.users\.alice\.password_scrypt: must be a hash printed by pggit-ops hash-password/);
  });

  it('defaults to a dashboard on loopback and no webhooks', () => {
    const { config } = loadConfig({ env: {}, cwd: mkdtempSync(path.join(tmpdir(), 'pggit-ops-empty-')) });
    expect(config.dashboard).toEqual({ host: '127.0.0.1', port: 8340, session_hours: 12 });
    expect(config.notifications.webhooks).toEqual([]);
    const hook = loadConfig({ file: configFile('notifications:\n  webhooks:\n    - { name: a, url_env: A_URL }\n'), env: {} }).config.notifications.webhooks[0];
    expect(hook).toEqual({ name: 'a', url_env: 'A_URL', format: 'json', min_severity: 'warning', events: ['findings', 'approval_requested', 'run_failed'] });
  });
});
