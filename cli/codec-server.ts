// `pggit-ops codec-server`: Temporal's remote codec protocol (POST .../encode, POST .../decode,
// Payloads as protobuf JSON: base64 metadata values and data) over the configured payload codec,
// so the Temporal UI (`temporal server start-dev --ui-codec-endpoint URL`, or the UI's "codec
// server" setting) and `temporal workflow show --codec-endpoint URL` can show encrypted payloads to
// those who can reach it. Whoever can reach it can decrypt: it listens on loopback by default, can
// demand a bearer token, and answers cross-origin requests only from the origins it is given.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  port: number;
  /** Browser origins allowed to call it (the Temporal UI's address). */
  origins: readonly string[];
  /** When set, requests need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => reply(res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function handle(options: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (origin && options.origins.includes(origin)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'POST');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    return reply(res, 204);
  }
  // Only the URL's last part matters (the protocol lets it be mounted at any depth).
  const action = new URL(req.url ?? '/', 'http://codec').pathname.split('/').pop();
  if (req.method !== 'POST' || (action !== 'encode' && action !== 'decode')) return reply(res, 404, { message: 'POST .../encode or .../decode' });
  if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) return reply(res, 401, { message: 'bearer token required' });

  let body: { payloads?: unknown };
  try {
    body = JSON.parse(await readBody(req)) as { payloads?: unknown };
  } catch (err) {
    return reply(res, 400, { message: `request body is not JSON: ${(err as Error).message}` });
  }
  if (!Array.isArray(body.payloads)) return reply(res, 400, { message: 'request body needs "payloads": [...]' });
  const payloads = (body.payloads as JsonPayload[]).map(fromJson);
  try {
    const out = action === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
    return reply(res, 200, { payloads: out.map(toJson) });
  } catch (err) {
    return reply(res, 400, { message: (err as Error).message });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}
