// The page frame: navigation, who is signed in, sign-out. Pages are plain server-rendered HTML
// with no script; the run pages refresh themselves while something is running.
import { html, trusted, type Html } from './html.ts';

const style = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{display:flex;gap:1.2em;align-items:center;padding:.6em 1.2em;background:#1d2330;color:#fff}
header a{color:#cfd8ea;text-decoration:none}header a.on{color:#fff;font-weight:600}
header form{margin-left:auto}main{padding:1em 1.6em;max-width:80em}
table{border-collapse:collapse;background:#fff;margin:.6em 0 1.4em;width:100%}
th,td{border:1px solid #dde1e8;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#eef1f5}
.s-succeeded,.s-sent,.s-pass{color:#176b2c}.s-failed,.s-rejected,.s-critical,.s-fail{color:#b3261e;font-weight:600}
.s-running,.s-waiting_approval,.s-warning,.s-pending{color:#8a5a00}.s-cancelled,.s-skipped{color:#667}
.msg{padding:.6em 1em;border-radius:4px;margin:.6em 0}.ok{background:#e3f4e6}.bad{background:#fbe4e2}
form.inline{display:inline-flex;gap:.4em;margin:.2em 0}input,select,button{font:inherit}
.muted{color:#667}svg{background:#fff;border:1px solid #dde1e8}
`;

const sections = [
  ['/runs', 'Runs'], ['/approvals', 'Approvals'], ['/schedules', 'Schedules'], ['/backups', 'Backups & drills'],
  ['/capacity', 'Capacity'], ['/alerts', 'Alerts'],
] as const;

export interface PageOptions {
  title: string;
  /** The signed-in user; absent on the sign-in page. */
  user?: string;
  csrf: string;
  path?: string;
  refreshSeconds?: number;
}

export function page(o: PageOptions, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${o.title} · pggit-ops</title>
${o.refreshSeconds ? html`<meta http-equiv="refresh" content="${o.refreshSeconds}">` : ''}
<style>${trusted(style)}</style></head>
<body><header><strong>pggit-ops</strong>
${o.user
  ? html`${sections.map(([href, label]) => html`<a href="${href}" class="${o.path === href ? 'on' : ''}">${label}</a>`)}
<form method="post" action="/logout" class="inline"><span>${o.user}</span><input type="hidden" name="_csrf" value="${o.csrf}"><button>Sign out</button></form>`
  : ''}
</header><main><h1>${o.title}</h1>
${body}
</main></body></html>`.text;
}

export function statusText(status: string | null | undefined): Html {
  return html`<span class="s-${status ?? ''}">${status ?? ''}</span>`;
}

export function message(kind: 'ok' | 'bad', text: string): Html {
  return html`<div class="msg ${kind}" role="status">${text}</div>`;
}
