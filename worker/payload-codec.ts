// Optional encryption of every workflow payload (inputs, results, activity arguments, failures'
// details) with AES-256-GCM, so the Temporal server and its database only ever hold ciphertext.
// The key comes from an environment variable named in the config; workers, the CLI and the codec
// server (`pggit-ops codec-server`, for the Temporal UI) use the same codec.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import { ConfigError, type Config } from './config.ts';

const ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class AesGcmCodec implements PayloadCodec {
  /** `keys`: every key that may have encrypted a stored payload, by id; `keyId` encrypts new ones. */
  constructor(
    private readonly keyId: string,
    private readonly keys: ReadonlyMap<string, Buffer>,
  ) {
    if (!keys.has(keyId)) throw new Error(`payload encryption key '${keyId}' is not among the keys given`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.keyId)!;
    return payloads.map((payload) => {
      // The whole payload (metadata included: it says how the data is encoded) is what gets sealed.
      const plain = encodePayload(payload);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCODING), [KEY_ID]: Buffer.from(this.keyId) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.[METADATA_ENCODING_KEY] ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID] ?? []).toString();
      const key = this.keys.get(keyId);
      if (!key) throw new ValueError(`payload was encrypted with key '${keyId}', which this process does not have`);
      const sealed = Buffer.from(payload.data ?? []);
      if (sealed.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is too short to be one');
      const decipher = createDecipheriv(CIPHER, key, sealed.subarray(0, IV_BYTES));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(`encrypted payload does not authenticate with key '${keyId}' (tampered, or another key of that id)`);
      }
      return decodePayload(plain);
    });
  }
}

/** A payload as bytes: JSON of base64 metadata and data (small, dependency-free, stable). */
function encodePayload(payload: Payload): Buffer {
  const metadata = Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return Buffer.from(JSON.stringify({ metadata, data: Buffer.from(payload.data ?? []).toString('base64') }));
}

function decodePayload(bytes: Buffer): Payload {
  const { metadata, data } = JSON.parse(bytes.toString('utf8')) as { metadata: Record<string, string>; data: string };
  return {
    metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(data, 'base64'),
  };
}

/** The codecs the config asks for: none, or the AES-GCM codec with the key from its env variable. */
export function payloadCodecs(config: Config, env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  const encryption = config.temporal.payload_encryption;
  if (!encryption) return [];
  const raw = env[encryption.key_env];
  if (!raw) throw new ConfigError(`temporal.payload_encryption.key_env: environment variable ${encryption.key_env} is not set`);
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32 || key.toString('base64') !== raw.trim()) {
    throw new ConfigError(`temporal.payload_encryption.key_env: ${encryption.key_env} must hold 32 bytes in base64 (openssl rand -base64 32)`);
  }
  return [new AesGcmCodec(encryption.key_id, new Map([[encryption.key_id, key]]))];
}
