// The body posted to a webhook: a JSON document for machines, or a Slack incoming-webhook message.
import type { NotificationEvent } from './events.ts';

export interface FindingLine {
  severity: string;
  code: string;
  message: string;
}

/** Findings listed in one message at most; the rest are counted (the run page has them all). */
const maxListed = 20;

function headline(e: NotificationEvent, findings: readonly FindingLine[]): string {
  const where = `${e.runbook} on ${e.target}`;
  switch (e.event) {
    case 'approval_requested':
      return `${e.escalated ? 'Escalated: approval' : 'Approval'} needed for step ${e.stepId} (${e.stepTitle}) of ${where}: ` +
        `${e.quorum} of ${e.approvers.join(', ')}, until ${e.deadline}`;
    case 'findings': {
      const critical = findings.filter((f) => f.severity === 'critical').length;
      return `${where}, step ${e.stepId} (${e.stepTitle}): ${critical} critical, ${findings.length - critical} warning findings`;
    }
    case 'run_failed':
      return `${where} failed: ${e.error}`;
  }
}

/** Slack reads <...> as links and mentions: text from findings and errors is escaped as Slack asks. */
function slackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function messageBody(format: 'json' | 'slack', e: NotificationEvent, findings: readonly FindingLine[], runUrl: string | undefined): unknown {
  const title = headline(e, findings);
  const listed = findings.slice(0, maxListed);
  if (format === 'json') {
    return { ...e, title, findings: e.event === 'findings' ? listed : undefined, more_findings: Math.max(0, findings.length - maxListed), url: runUrl };
  }
  const lines = [
    `*${slackText(title)}*`,
    ...listed.map((f) => `• ${f.severity.toUpperCase()} \`${f.code}\`: ${slackText(f.message)}`),
    ...(findings.length > maxListed ? [`… and ${findings.length - maxListed} more`] : []),
    runUrl ? `<${runUrl}|${e.runId}>` : `run ${e.runId}`,
  ];
  return { text: lines.join('\n') };
}
