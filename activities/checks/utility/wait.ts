// A step that waits, heartbeating: a pause between steps of a runbook (e.g. let replicas catch up),
// and a long step for drills of worker crashes and cancellation.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineCheck } from '../define.ts';

export const wait = defineCheck({
  name: 'wait',
  description: 'waits the given number of seconds, heartbeating every second',
  kind: 'job',
  args: z.object({ seconds: z.number().min(0).max(86_400) }).strict(),
  async run(ctx, args) {
    const until = Date.now() + args.seconds * 1000;
    while (Date.now() < until) {
      ctx.heartbeat({ remainingSeconds: Math.ceil((until - Date.now()) / 1000) });
      await sleep(Math.min(1000, until - Date.now()), undefined, { signal: ctx.signal });
    }
    return { summary: `waited ${args.seconds}s`, findings: [] };
  },
});
