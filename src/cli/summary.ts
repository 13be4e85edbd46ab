import type { CompactedPartition } from '../lake/compact.js';
import type { RunSummary } from '../pipeline/session.js';
import { RUN_STAGES, type CheckResult, type StatusReport } from '../warehouse/warehouse.js';
import type { ReconcileDay } from '../pipeline/reconcile.js';
import type { RetentionDetail } from '../pipeline/retention.js';
import type { ForgetDetail } from '../pipeline/forget.js';
import type { RejectsByField, RunDetail } from '../pipeline/run-detail.js';
import type { ReplayDetail } from '../pipeline/explicit.js';
import type { RejectsReplayDetail } from '../pipeline/replay-rejects.js';
import type { DryRunReport } from '../pipeline/dry-run.js';
import type { RunProgress } from '../state/run-progress.js';

const n = (value: number) => value.toLocaleString('en-US');
const when = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A value as a table cell shows it. */
export const cellText = (v: unknown) =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Query results as an aligned text table. */
export function formatRows(rows: Record<string, unknown>[]): string {
  const columns = Object.keys(rows[0] ?? {});
  return table([columns, ...rows.map((r) => columns.map((c) => cellText(r[c])))]);
}

/** Each column's width, its widest cell: a loop, as `Math.max(...cells)` overflows the stack on many rows. */
export function columnWidths(rows: string[][]): number[] {
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return widths;
}

/** Rows as lines with their cells padded to `widths` (a wider cell pushes the rest of its line out). */
export function alignedLines(rows: string[][], widths: number[]): string {
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function table(rows: string[][]): string {
  return alignedLines(rows, columnWidths(rows));
}

/** The short human summary `aetl run` prints on stdout. */
export function formatRunSummary(s: RunSummary): string {
  const t = s.totals;
  const lines: string[] = [];
  lines.push(
    `${s.command} ${s.runId} (${s.pipeline}): ${s.status.toUpperCase()} in ${(s.durationMs / 1000).toFixed(1)}s`,
  );
  if (s.status === 'skipped') return [...lines, s.error ?? ''].join('\n');
  if (s.windows.length === 0) lines.push('nothing new to load');
  const windows = s.windows.filter((w) => w.window);
  if (windows.length > 0) {
    lines.push(
      `window     ${when(windows[0]!.window!.startMs)} -> ${when(windows.at(-1)!.window!.endMs)} (${windows.length} window${windows.length === 1 ? '' : 's'})`,
    );
  }
  const files = s.windows.flatMap((w) => w.files);
  if (files.length > 0) lines.push(`files      ${files.length} loaded`);
  lines.push(
    `events     extracted ${n(t.read)} | loaded ${n(t.inserted)} | already loaded ${n(t.alreadyPresent)} | ` +
      `duplicates skipped ${n(t.inBatchDuplicates)} | rejected ${n(t.rejected)} | outside window ${n(t.outOfWindow)}`,
  );
  if (t.conflicts > 0) lines.push(`conflicts  ${n(t.conflicts)} (same id, different content; see etl_conflict)`);
  lines.push(`checkpoint ${s.checkpoint ?? '(none)'}`);
  lines.push('', table([['table', 'rows'], ...Object.entries(s.tables).map(([name, rows]) => [name, n(rows)])]));
  const checks = [...s.windows.flatMap((w) => w.checks), ...s.checks];
  if (checks.length > 0) lines.push('', formatChecks(checks));
  if (s.command === 'reconcile' && Array.isArray(s.detail)) lines.push('', formatReconcile(s.detail as ReconcileDay[]));
  if (s.command === 'rebuild-dims') lines.push(`re-keyed   ${n((s.detail as { rekeyed: number }).rekeyed)} fact rows`);
  if (s.command === 'retention') lines.push('', formatRetention(s.detail as RetentionDetail));
  if (s.command === 'compact') {
    const { compacted } = s.detail as { compacted: CompactedPartition[] };
    const files = compacted.reduce((sum, p) => sum + p.files, 0);
    lines.push(`compacted  ${n(compacted.length)} partition(s): ${n(files)} files into ${n(compacted.length)}`);
  }
  if (s.command === 'replay') {
    const d = s.detail as ReplayDetail;
    lines.push(`replay     ${n(d.windows)} window(s): ${n(d.inserted)} events loaded, ${n(d.replaced)} replaced`);
  }
  if (s.command === 'rejects-replay') {
    const d = s.detail as RejectsReplayDetail;
    lines.push(
      `rejects    ${n(d.examined)} examined: ${n(d.replayed)} pass now and were loaded, ${n(d.stillRejected)} still rejected`,
    );
    if (d.truncated > 0) {
      lines.push(
        `           ${n(d.truncated)} of them kept only in part (over 64 KiB): not replayable, load them from their source again`,
      );
    }
  }
  if (s.command === 'forget') lines.push('', formatForget(s.detail as ForgetDetail));
  if (s.command === 'state') {
    const { before, after } = s.detail as { before: string | null; after: string | null };
    lines.push(`state      checkpoint ${before ?? '(none)'} -> ${after ?? '(none)'}`);
  }
  lines.push('', `warehouse  ${s.warehouse}`, `lake       ${s.lake}`);
  if (s.error) lines.push(`error      ${s.error}`);
  return lines.join('\n');
}

const BAD = new Set(['fail', 'error', 'warn']);

/** One line per check: how many results had each status, and the first problem (or the last message). */
function formatChecks(checks: CheckResult[]): string {
  const byName = new Map<string, { statuses: Map<string, number>; detail: string; bad: boolean }>();
  for (const c of checks) {
    const entry = byName.get(c.name) ?? { statuses: new Map(), detail: '', bad: false };
    entry.statuses.set(c.status, (entry.statuses.get(c.status) ?? 0) + 1);
    if (BAD.has(c.status) && !entry.bad) {
      entry.bad = true;
      entry.detail = c.message;
    } else if (!entry.bad) entry.detail = c.message;
    byName.set(c.name, entry);
  }
  const rows = [...byName].sort(([, a], [, b]) => Number(b.bad) - Number(a.bad));
  return table([
    ['check', 'results', 'detail'],
    ...rows.map(([name, e]) => [
      name,
      [...e.statuses]
        .map(([status, count]) => `${BAD.has(status) ? status.toUpperCase() : status} ${count}`)
        .join(', '),
      e.detail,
    ]),
  ]);
}

/** What retention removed (or, without --apply, would remove). */
export function formatRetention(r: RetentionDetail): string {
  const verb = r.applied ? 'removed' : 'would remove';
  if (r.items.length === 0 && r.lakePartitions.length === 0) return `nothing older than ${r.cutoff} to remove`;
  return [
    `${verb}: everything before ${r.cutoff}, and ${r.lakePartitions.length} lake partition folder(s)`,
    table([
      ['table', 'event_date', 'rows', 'archived to'],
      ...r.items.map((i) => [i.table, i.eventDate ?? '(older rows)', n(i.rows), i.archivedTo ?? '']),
    ]),
  ].join('\n');
}

/** `aetl run --dry-run`: what would load, per day and per reject reason. */
export function formatDryRun(r: DryRunReport): string {
  const t = r.inputs.reduce(
    (sum, i) => ({ read: sum.read + i.read, valid: sum.valid + i.valid, rejected: sum.rejected + i.rejected }),
    { read: 0, valid: 0, rejected: 0 },
  );
  const what = r.inputs.some((i) => i.file) ? 'file(s)' : 'window(s)';
  const lines = [
    `dry run (${r.pipeline}): nothing was written; checkpoint ${r.checkpoint ?? '(none)'}`,
    `inputs     ${r.inputs.length} ${what}: read ${n(t.read)} | valid ${n(t.valid)} | rejected ${n(t.rejected)}`,
  ];
  if (r.days.length > 0) {
    lines.push(
      '',
      table([
        ['day', 'fact_ai_event', 'of them new', 'fact_policy_evaluation', 'etl_rejected_event'],
        ...r.days.map((d) => [
          d.day,
          n(d.events),
          d.new_events === null ? '?' : n(d.new_events),
          n(d.policy_rows),
          n(d.rejects),
        ]),
      ]),
    );
  } else lines.push('nothing new to load');
  if (r.rejects_by_reason.length > 0) {
    lines.push(
      '',
      table([
        ['rejects by field', 'reason', 'records'],
        ...r.rejects_by_reason.map((x) => [x.field, summaryOf(x.reason), n(x.records)]),
      ]),
    );
  }
  for (const file of r.unreadable) lines.push(`unreadable ${file}`);
  return lines.join('\n');
}

/** What an erasure removed; the user appears only as the audit row's subject hash. */
function formatForget(f: ForgetDetail): string {
  const dates = f.eventDates.length === 0 ? '' : `: ${f.eventDates.join(', ')}`;
  return [
    `erased     ${f.subjectHash} (requested by ${f.requestedBy}; recorded in etl_erasure)`,
    table([['table', 'rows removed'], ...Object.entries(f.rows).map(([name, rows]) => [name, n(rows)])]),
    `lake       ${f.eventDates.length} fact partition date(s) rewritten${dates}, and the dimensions`,
    `staging    ${f.stagingPackages.length} leftover load package(s) deleted`,
  ].join('\n');
}

function formatReconcile(days: ReconcileDay[]): string {
  if (days.length === 0) return 'nothing to reconcile yet';
  return table([
    ['day', 'source', 'warehouse', 'loaded', 'now', 'status'],
    ...days.map((d) => [d.day, n(d.source), n(d.before), n(d.loaded), n(d.after), d.status]),
  ]);
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;
/** An error column as one short line: the table stays readable, `--json` has it whole. */
const summaryOf = (error: unknown) => {
  const text = String(error ?? '').replace(/\s+/g, ' ');
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
};

/** Check results as the ledger holds them, for formatChecks. */
function ledgerChecks(rows: Record<string, unknown>[]): CheckResult[] {
  return rows.map((c) => ({
    name: String(c.check_name),
    scope: String(c.scope),
    status: c.status as CheckResult['status'],
    blocking: false,
    observed: null,
    expected: null,
    message: summaryOf(c.message),
  }));
}

function rejectsTable(byField: RejectsByField): string {
  return table([
    ['rejects by field', 'records', 'example reason'],
    ...byField.map((f) => [f.field, n(f.rejects), summaryOf(f.example)]),
  ]);
}

/** A run under way: who, what it does now, how far it got. */
function runningLine(p: RunProgress): string {
  const window = p.window ? `, window ${p.window.from} → ${p.window.to}` : '';
  return (
    `${p.command} ${p.run_id} (pid ${p.pid} on ${p.host}, since ${p.started_at}): ${p.stage}${window}, ` +
    `${n(p.packages_done)} package(s) loaded, ${n(p.records_read)} records read`
  );
}

export function formatStatus(
  r: StatusReport,
  extra: {
    lag_seconds: number | null;
    lake_bytes: number;
    running: RunProgress | null;
    rejectsByField: RejectsByField;
    accepted_losses: { from: string; to: string; reason: string; accepted_by: string }[];
  },
): string {
  const lag = extra.lag_seconds === null ? '' : ` (${(extra.lag_seconds / 60).toFixed(1)} min behind now)`;
  const lines = [
    `pipeline   ${r.pipeline}`,
    `checkpoint ${r.checkpoint ?? '(none: no run has committed yet)'}${lag}`,
    `rejects    ${n(r.rejects)} quarantined`,
    `lake       ${mb(extra.lake_bytes)} of Parquet`,
    ...(extra.running ? [`running    ${runningLine(extra.running)}`] : []),
    ...extra.accepted_losses.map((l) => `accepted   loss ${l.from} → ${l.to}: "${l.reason}" (by ${l.accepted_by})`),
    '',
  ];
  lines.push(
    table([
      ['run', 'command', 'status', 'started', 'seconds', 'windows', 'span', 'read', 'loaded', 'rejected', 'error'],
      ...r.runs.map((run) => [
        String(run.run_id),
        String(run.command),
        String(run.status),
        String(run.started_at),
        run.duration_s === null || run.duration_s === undefined ? '' : String(run.duration_s),
        String(run.windows),
        // Minutes are enough to tell windows apart at a glance; --json has the exact instants.
        run.window_start ? `${String(run.window_start).slice(0, 16)} → ${String(run.window_end).slice(0, 16)}` : '',
        n(Number(run.read)),
        n(Number(run.inserted)),
        n(Number(run.rejected)),
        summaryOf(run.error),
      ]),
    ]),
  );
  // The newest run's next step, when it failed: the one to act on (`--json` has every run's).
  const next = r.runs[0]?.next_step;
  if (next) lines.push(`next: ${String(next)}`);
  if (extra.rejectsByField.length > 0) {
    lines.push('', rejectsTable(extra.rejectsByField));
  }
  if (r.drift.length > 0) {
    lines.push(
      '',
      table([
        ['unknown source field', 'type', 'records', 'first seen', 'last seen', ''],
        ...r.drift.map((d) => [d.field, d.example_type, n(d.count), d.first_seen, d.last_seen, d.new ? 'NEW' : '']),
      ]),
    );
  }
  lines.push('', table([['table', 'rows'], ...Object.entries(r.tables).map(([name, rows]) => [name, n(rows)])]));
  if (r.checks.length > 0) {
    // One line per check, failures first (`--json` lists every result).
    const latest = ledgerChecks(r.checks);
    lines.push('', formatChecks(latest));
  }
  return lines.join('\n');
}

/** `aetl runs show`: one run, its windows, its checks (one line per check) and its rejects by field. */
export function formatRunDetail(r: RunDetail): string {
  const run = r.run;
  const seconds =
    run.finished_at && run.started_at
      ? ` (${((Date.parse(String(run.finished_at)) - Date.parse(String(run.started_at))) / 1000).toFixed(1)} s)`
      : '';
  const lines = [
    `run      ${String(run.run_id)}  ${String(run.command)}  ${String(run.status).toUpperCase()}`,
    `started  ${String(run.started_at)}  finished ${String(run.finished_at ?? '(not finished)')}${seconds}`,
  ];
  if (run.error) lines.push(`error    ${String(run.error)}`);
  if (run.next_step) lines.push(`next     ${String(run.next_step)}`);
  // Busy time per stage: they overlap (extraction runs beside loading), so they need not sum to the duration.
  const stages = RUN_STAGES.filter((stage) => run[`${stage}_ms`] != null);
  if (stages.length > 0)
    lines.push(
      `stages   ${stages.map((stage) => `${stage} ${(Number(run[`${stage}_ms`]) / 1000).toFixed(1)} s`).join('  ')}`,
    );
  if (r.windows.length > 0) {
    const columns = [
      'seq',
      'window_start',
      'window_end',
      'read',
      'inserted',
      'already_present',
      'in_batch_duplicates',
    ].concat(['rejected', 'checks_passed', 'checkpoint_moved', 'extract_ms', 'load_ms']);
    lines.push('', table([columns, ...r.windows.map((w) => columns.map((c) => String(w[c] ?? '')))]));
  }
  if (r.checks.length > 0) {
    const checks = ledgerChecks(r.checks);
    lines.push('', formatChecks(checks));
  }
  if (r.rejectsByField.length > 0) {
    lines.push('', rejectsTable(r.rejectsByField));
  }
  return lines.join('\n');
}
