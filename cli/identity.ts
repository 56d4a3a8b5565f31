// Who is at the keyboard. The CLI establishes it, never the person typing a name: a personal
// operator token (env PGGIT_OPS_OPERATOR_TOKEN) whose sha256 a configured user carries, else the
// OS user. Approvals and run initiators use this identity.
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Config } from '../worker/config.ts';
import { ConfigError } from '../worker/config.ts';

export function currentIdentity(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const token = env.PGGIT_OPS_OPERATOR_TOKEN;
  if (token) {
    const digest = createHash('sha256').update(token).digest('hex');
    const user = Object.entries(config.people.users).find(([, u]) => u.token_sha256 === digest)?.[0];
    if (!user) throw new ConfigError('PGGIT_OPS_OPERATOR_TOKEN matches no user in people.users (token_sha256)');
    return user;
  }
  return userInfo().username;
}
