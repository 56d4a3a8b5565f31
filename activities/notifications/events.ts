// What the runbook interpreter tells the notification activity. Plain data, workflow-safe: it
// carries names and ids only; webhook URLs (secrets) are resolved from the environment by the
// activity, so they never enter a workflow's input or history.
import type { notificationEvents } from '../../worker/config.ts';

export type NotificationEventName = (typeof notificationEvents)[number];

interface RunRef {
  runId: string;
  runbook: string;
  target: string;
}

export type NotificationEvent =
  | (RunRef & { event: 'approval_requested'; stepId: string; stepTitle: string; approvers: string[]; quorum: number; deadline: string; escalated: boolean })
  /** A step ended with warning or critical findings; the activity reads them from the ledger. */
  | (RunRef & { event: 'findings'; stepId: string; stepTitle: string })
  | (RunRef & { event: 'run_failed'; error: string });

export interface NotifyResult {
  sent: string[];
  /** Webhooks that still failed on the last attempt: recorded as failed in pggit_ops.notifications. */
  failed: string[];
}
