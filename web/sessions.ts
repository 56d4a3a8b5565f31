// Signed-in sessions, in memory: a random id in a cookie names the user until it expires or they
// sign out. A restart of the dashboard signs everyone out, which is acceptable for an operator tool.
import { randomBytes } from 'node:crypto';

export class Sessions {
  private readonly byId = new Map<string, { user: string; expires: number }>();

  constructor(private readonly ttlMs: number) {}

  create(user: string): string {
    const now = Date.now();
    for (const [id, s] of this.byId) if (s.expires <= now) this.byId.delete(id);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { user, expires: now + this.ttlMs });
    return id;
  }

  user(id: string | undefined): string | undefined {
    const s = id === undefined ? undefined : this.byId.get(id);
    if (!s || s.expires <= Date.now()) return undefined;
    return s.user;
  }

  destroy(id: string | undefined): void {
    if (id !== undefined) this.byId.delete(id);
  }
}
