// The notify activity: posts one event to every configured webhook that wants it. Each
// (event, webhook) pair is a row in pggit_ops.notifications: a retried attempt skips webhooks that
// already took the event, and on the last attempt the ones still failing are marked failed there,
// so a notification is either delivered or on record as not delivered.
import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import type { LoadedConfig } from '../../worker/config.ts';
import type { TargetPools } from '../pools.ts';
import type { NotificationEvent, NotifyResult } from './events.ts';
import { messageBody, type FindingLine } from './messages.ts';

/** How long one POST may take; a slow receiver counts as a failed attempt. */
const postTimeoutMs = 10_000;

const severityRank: Record<string, number> = { info: 0, warning: 1, critical: 2 };

function eventKey(e: NotificationEvent): string {
  return e.event === 'run_failed' ? `${e.runId}//run_failed` : `${e.runId}/${e.stepId}/${e.event}${e.event === 'approval_requested' && e.escalated ? '/escalated' : ''}`;
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(postTimeoutMs),
  });
  // The body is drained so the connection can be reused; what it says goes into the error.
  const text = await response.text().catch(() => '');
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

/** Is this the last attempt the retry policy allows? Unknown or unlimited policies keep retrying. */
function lastAttempt(): boolean {
  const { attempt, retryPolicy } = activityInfo();
  const max = retryPolicy?.maximumAttempts;
  return max !== undefined && max > 0 && attempt >= max;
}

export function notificationActivities(loaded: LoadedConfig, pools: TargetPools, env: NodeJS.ProcessEnv = process.env) {
  const { webhooks } = loaded.config.notifications;
  const publicUrl = loaded.config.dashboard.public_url?.replace(/\/$/, '');

  return {
    async notify(e: NotificationEvent): Promise<NotifyResult> {
      const wanted = webhooks.filter((w) => w.events.includes(e.event));
      const result: NotifyResult = { sent: [], failed: [] };
      if (!wanted.length) return result;
      const findings =
        e.event === 'findings'
          ? (
              await pools.withLedger((db) =>
                db.query<FindingLine>(
                  `SELECT severity, code, message FROM pggit_ops.findings
                    WHERE run_id = $1 AND step_id = $2 AND severity <> 'info'
                    ORDER BY severity = 'critical' DESC, seq`,
                  [e.runId, e.stepId],
                ),
              )
            ).rows
          : [];
      const final = lastAttempt();
      const errors: string[] = [];
      for (const hook of wanted) {
        const relevant = findings.filter((f) => severityRank[f.severity]! >= severityRank[hook.min_severity]!);
        if (e.event === 'findings' && !relevant.length) continue;
        const body = messageBody(hook.format, e, relevant, publicUrl && `${publicUrl}/run?id=${encodeURIComponent(e.runId)}`);
        const status = await pools.withLedger(async (db) => {
          await db.query(
            `INSERT INTO pggit_ops.notifications (event_key, webhook, event, run_id, step_id, payload)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_key, webhook) DO NOTHING`,
            [eventKey(e), hook.name, e.event, e.runId, 'stepId' in e ? e.stepId : null, JSON.stringify(body)],
          );
          return (await db.query<{ status: string }>(`SELECT status FROM pggit_ops.notifications WHERE event_key = $1 AND webhook = $2`, [eventKey(e), hook.name])).rows[0]!.status;
        });
        if (status !== 'pending') continue;
        const url = env[hook.url_env];
        // A missing URL is a configuration error: retrying cannot fix it, so it is recorded at once.
        const misconfigured = url ? undefined : `env ${hook.url_env} (the URL of webhook ${hook.name}) is not set`;
        let error = misconfigured;
        if (url) error = await post(url, body).then(() => undefined, (err: unknown) => (err as Error).message);
        const failedForGood = error !== undefined && (final || misconfigured !== undefined);
        await pools.withLedger((db) =>
          db.query(
            `UPDATE pggit_ops.notifications SET attempts = attempts + 1, status = $3, last_error = $4, updated_at = now()
              WHERE event_key = $1 AND webhook = $2`,
            [eventKey(e), hook.name, error === undefined ? 'sent' : failedForGood ? 'failed' : 'pending', error ?? null],
          ),
        );
        if (error === undefined) result.sent.push(hook.name);
        else if (failedForGood) result.failed.push(hook.name);
        else errors.push(`webhook ${hook.name}: ${error}`);
      }
      if (errors.length) throw ApplicationFailure.retryable(errors.join('; '), 'WebhookFailed');
      return result;
    },
  };
}

export type NotificationActivities = ReturnType<typeof notificationActivities>;
