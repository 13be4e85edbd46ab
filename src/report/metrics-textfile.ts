import { existsSync, readFileSync } from 'node:fs';
import { writeFileDurably } from '../util/durable-write.js';
import type { CheckResult, LoadCounts } from '../warehouse/warehouse.js';

/** What one finished command reports to node_exporter's textfile collector. */
export interface RunMetrics {
  pipeline: string;
  command: string;
  status: string;
  exitCode: number;
  durationMs: number;
  finishedMs: number;
  totals: LoadCounts;
  checks: CheckResult[];
  /** null: the pipeline has none (say after `state reset`); undefined: not known (the run failed first). */
  checkpoint: string | null | undefined;
}

const HELP: Record<string, [type: string, help: string]> = {
  aetl_run_last_finished_timestamp_seconds: ['gauge', 'When the last run of this command finished.'],
  aetl_run_last_success_timestamp_seconds: ['gauge', 'When a run of this command last succeeded (exit 0).'],
  aetl_run_last_exit_code: ['gauge', 'Exit code of the last run: 0 ok, 1 run failed, 2 usage/config, 3 checks failed.'],
  aetl_run_last_duration_seconds: ['gauge', 'How long the last run took.'],
  aetl_run_last_events: ['gauge', "The last run's event counters, by outcome."],
  aetl_run_last_checks: ['gauge', "The last run's check results, by status."],
  aetl_checkpoint_timestamp_seconds: ['gauge', "The pipeline's incremental checkpoint after the last run."],
};

const OUTCOMES: Record<keyof LoadCounts, string> = {
  read: 'read',
  inserted: 'inserted',
  alreadyPresent: 'already_present',
  inBatchDuplicates: 'in_batch_duplicates',
  conflicts: 'conflicts',
  rejected: 'rejected',
  outOfWindow: 'out_of_window',
  policyRows: 'policy_rows',
};

/** A Prometheus label value: backslash, quote and newline escaped. */
const label = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

interface Sample {
  name: string;
  labels: string;
  value: number;
}

const SAMPLE = /^([a-z_]+)\{(.*)\} (\S+)$/;

function samplesOf(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = SAMPLE.exec(line);
    return match ? [{ name: match[1]!, labels: match[2]!, value: Number(match[3]) }] : [];
  });
}

function render(samples: Sample[]): string {
  const lines: string[] = [];
  for (const [name, [type, help]] of Object.entries(HELP)) {
    const own = samples.filter((s) => s.name === name);
    if (own.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of own.sort((a, b) => a.labels.localeCompare(b.labels))) lines.push(`${name}{${s.labels}} ${s.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the run's counters to a Prometheus textfile (`metrics.textfile`).
 * One file holds every command of every pipeline: this run's samples replace
 * its own (pipeline, command) ones, the rest stay, and the last success time
 * is kept through a failure (it is what an alert on "no success for 2 h" needs).
 * Written to a temporary file and renamed, so the collector never reads half a file.
 */
export function writeMetricsTextfile(path: string, run: RunMetrics): void {
  const own = `pipeline="${label(run.pipeline)}",command="${label(run.command)}"`;
  const previous = existsSync(path) ? samplesOf(readFileSync(path, 'utf8')) : [];
  const isOwn = (s: Sample) => s.labels === own || s.labels.startsWith(`${own},`);
  const lastSuccess = previous.find((s) => s.name === 'aetl_run_last_success_timestamp_seconds' && isOwn(s));
  const pipelineOnly = `pipeline="${label(run.pipeline)}"`;
  // A run that failed before reading the checkpoint leaves the last known one in place.
  const replacesCheckpoint = (s: Sample) =>
    run.checkpoint !== undefined && s.name === 'aetl_checkpoint_timestamp_seconds' && s.labels === pipelineOnly;
  const kept = previous.filter((s) => !isOwn(s) && !replacesCheckpoint(s));
  const finished = run.finishedMs / 1000;
  const samples: Sample[] = [
    { name: 'aetl_run_last_finished_timestamp_seconds', labels: own, value: finished },
    { name: 'aetl_run_last_exit_code', labels: own, value: run.exitCode },
    { name: 'aetl_run_last_duration_seconds', labels: own, value: run.durationMs / 1000 },
    ...Object.entries(OUTCOMES).map(([key, outcome]) => ({
      name: 'aetl_run_last_events',
      labels: `${own},outcome="${outcome}"`,
      value: run.totals[key as keyof LoadCounts],
    })),
    ...['pass', 'warn', 'fail', 'error'].map((status) => ({
      name: 'aetl_run_last_checks',
      labels: `${own},status="${status}"`,
      value: run.checks.filter((c) => c.status === status).length,
    })),
  ];
  const success = run.exitCode === 0 ? finished : lastSuccess?.value;
  if (success !== undefined)
    samples.push({ name: 'aetl_run_last_success_timestamp_seconds', labels: own, value: success });
  if (run.checkpoint !== null && run.checkpoint !== undefined) {
    const value = Date.parse(run.checkpoint) / 1000;
    samples.push({ name: 'aetl_checkpoint_timestamp_seconds', labels: pipelineOnly, value });
  }
  writeFileDurably(path, render([...kept, ...samples]));
}
