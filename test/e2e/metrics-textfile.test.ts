import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-06-10T06:00:00Z';

/** The textfile's samples as `name{labels}` → value, after checking every line is valid exposition format. */
function samples(file: string): Map<string, number> {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const values = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE (\w+) gauge$/.exec(line);
    if (type) typed.add(type[1]!);
    if (line.startsWith('#')) continue;
    const match = /^(\w+)(\{(?:\w+="(?:[^"\\]|\\.)*",?)*\}) (-?[\d.e+]+)$/.exec(line);
    expect(match, line).not.toBeNull();
    expect(typed.has(match![1]!), `${match![1]} has a TYPE line before it`).toBe(true);
    values.set(`${match![1]}${match![2]}`, Number(match![3]));
  }
  return values;
}

interface Summary {
  run_id: string;
  exit_code: number;
  totals: { read: number; inserted: number; rejected: number };
  checks: unknown[];
  windows: { checks: unknown[] }[];
  checkpoint: string;
  duration_ms: number;
}

describe('metrics.textfile: the run summary for node_exporter', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());
  const textfile = ws.path('metrics', 'aetl.prom');
  const run = (labels: string) => `{pipeline="default",command="${labels}"}`;

  it('writes the counters of every command, keeps the last success through a failure, and never half a file', async () => {
    mkdirSync(ws.path('metrics'));
    const config = ws.writeConfig({
      source: { kind: 'simulator', simulator: { seed: 3, rate_per_minute: 2 } },
      metrics: { textfile: 'metrics/aetl.prom' },
    });
    const loaded = await aetl(['run', '--json', '--config', config], { AETL_NOW: NOW });
    expect(loaded.code, loaded.stderr).toBe(0);
    const summary = JSON.parse(loaded.stdout) as Summary;
    expect(summary.run_id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(summary.totals.inserted).toBeGreaterThan(0);

    let values = samples(textfile);
    expect(values.get(`aetl_run_last_exit_code${run('run')}`)).toBe(0);
    expect(values.get(`aetl_run_last_events{pipeline="default",command="run",outcome="inserted"}`)).toBe(
      summary.totals.inserted,
    );
    expect(values.get(`aetl_run_last_events{pipeline="default",command="run",outcome="read"}`)).toBe(
      summary.totals.read,
    );
    const checks = summary.windows.flatMap((w) => w.checks).length + summary.checks.length;
    const counted = ['pass', 'warn', 'fail', 'error'].reduce(
      (sum, status) => sum + values.get(`aetl_run_last_checks{pipeline="default",command="run",status="${status}"}`)!,
      0,
    );
    expect(counted).toBeLessThanOrEqual(checks);
    expect(counted).toBeGreaterThan(0);
    expect(values.get('aetl_checkpoint_timestamp_seconds{pipeline="default"}')).toBe(
      Date.parse(summary.checkpoint) / 1000,
    );
    const succeededAt = values.get(`aetl_run_last_success_timestamp_seconds${run('run')}`)!;
    expect(succeededAt).toBe(values.get(`aetl_run_last_finished_timestamp_seconds${run('run')}`));

    const checked = await aetl(['check', '--config', config], { AETL_NOW: NOW });
    expect(checked.code, checked.stderr).toBe(0);
    values = samples(textfile);
    expect(values.get(`aetl_run_last_exit_code${run('check')}`)).toBe(0);
    expect(values.get(`aetl_run_last_exit_code${run('run')}`)).toBe(0); // the other command's samples stay

    // A run that fails outright (the source refuses connections) reports exit 1 and keeps the last success.
    const broken = ws.writeConfig(
      {
        source: { kind: 'events_api', url: 'http://127.0.0.1:1', token: 't', max_retries: 0 },
        metrics: { textfile: 'metrics/aetl.prom' },
      },
      'broken.yaml',
    );
    const failed = await aetl(['run', '--config', broken], { AETL_NOW: '2026-06-10T07:00:00Z' });
    expect(failed.code).toBe(1);
    values = samples(textfile);
    expect(values.get(`aetl_run_last_exit_code${run('run')}`)).toBe(1);
    expect(values.get(`aetl_run_last_success_timestamp_seconds${run('run')}`)).toBe(succeededAt);
    expect(values.get(`aetl_run_last_finished_timestamp_seconds${run('run')}`)).toBeGreaterThan(succeededAt);
    expect(values.get('aetl_checkpoint_timestamp_seconds{pipeline="default"}')).toBe(
      Date.parse(summary.checkpoint) / 1000,
    );
    expect(readdirSync(ws.path('metrics'))).toEqual(['aetl.prom']); // no temporary file left

    // A pipeline without a checkpoint any more (state reset) has no checkpoint gauge.
    const reset = await aetl(['state', 'reset', '--yes', '--config', config], { AETL_NOW: NOW });
    expect(reset.code, reset.stderr).toBe(0);
    values = samples(textfile);
    expect(values.get(`aetl_run_last_exit_code${run('state')}`)).toBe(0);
    expect(values.has('aetl_checkpoint_timestamp_seconds{pipeline="default"}')).toBe(false);
  });
});
