// Connection options for a Temporal server, a Temporal cluster or Temporal Cloud, from the config.
// The API key is read from the env var the config names; it never enters workflow input.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, type LoadedConfig } from './config.ts';
import { payloadCodecs } from './payload-codec.ts';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

function readTlsFile(loaded: LoadedConfig, key: string, file: string): Buffer {
  try {
    return readFileSync(path.resolve(loaded.baseDir, file));
  } catch (err) {
    throw new ConfigError(`temporal.tls.${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function temporalConnectionOptions(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): TemporalConnectionOptions {
  const t = loaded.config.temporal;
  const options: TemporalConnectionOptions = { address: t.address };
  const apiKey = env[t.api_key_env];
  if (apiKey) options.apiKey = apiKey;
  if (t.tls) {
    options.tls = {};
    if (t.tls.server_name) options.tls.serverNameOverride = t.tls.server_name;
    if (t.tls.server_ca_cert_path) options.tls.serverRootCACertificate = readTlsFile(loaded, 'server_ca_cert_path', t.tls.server_ca_cert_path);
    if (t.tls.client_cert_path && t.tls.client_key_path) {
      options.tls.clientCertPair = {
        crt: readTlsFile(loaded, 'client_cert_path', t.tls.client_cert_path),
        key: readTlsFile(loaded, 'client_key_path', t.tls.client_key_path),
      };
    }
  } else if (apiKey) {
    // Temporal Cloud's API-key endpoints require TLS; turn it on rather than fail obscurely.
    options.tls = {};
  }
  return options;
}

export async function connectClient(loaded: LoadedConfig): Promise<Client> {
  const codecs = payloadCodecs(loaded.config);   // before connecting: a missing key is a config error
  const connection = await Connection.connect(temporalConnectionOptions(loaded));
  return new Client({ connection, namespace: loaded.config.temporal.namespace, dataConverter: { payloadCodecs: codecs } });
}

export function connectWorker(loaded: LoadedConfig): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(loaded));
}
