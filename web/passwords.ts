// Dashboard credentials: scrypt password hashes (node:crypto, no native add-on) and the operator
// tokens the CLI already uses (people.users.<name>.token_sha256). Comparisons are constant-time.
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Config } from '../worker/config.ts';

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** scrypt$N$r$p$salt$hash (base64): the cost is stored with the hash, so it can be raised later. */
export async function hashPassword(password: string, cost = { N: 2 ** 15, r: 8, p: 1 }): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [, N, r, p, salt, hash] = stored.split('$');
  const expected = Buffer.from(hash!, 'base64');
  const cost = { N: Number(N), r: Number(r), p: Number(p) };
  const actual = await scrypt(password, Buffer.from(salt!, 'base64'), expected.length, { ...cost, maxmem: 256 * cost.N * cost.r });
  return timingSafeEqual(actual, expected);
}

function tokenMatches(token: string, sha256: string): boolean {
  return timingSafeEqual(createHash('sha256').update(token).digest(), Buffer.from(sha256, 'hex'));
}

/** A throwaway hash checked for unknown users, so a wrong name takes as long as a wrong password. */
const decoy = hashPassword(randomBytes(16).toString('hex'));

/** Whether `secret` is the user's password or operator token. */
export async function checkCredentials(config: Config, user: string, secret: string): Promise<boolean> {
  const person = Object.hasOwn(config.people.users, user) ? config.people.users[user] : undefined;
  if (!person || !secret) {
    await passwordMatches(secret, await decoy);
    return false;
  }
  if (person.token_sha256 && tokenMatches(secret, person.token_sha256)) return true;
  return person.password_scrypt !== undefined && (await passwordMatches(secret, person.password_scrypt));
}
