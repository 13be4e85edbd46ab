import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { shippedReference, workspacesForFile } from '../helpers/workspace.js';

/**
 * Every failure says the next step (issue 20, item 16): the failed command's
 * last stderr line is `next: <command>`, and `aetl status` shows the same
 * for the run it recorded. One tiny input per failure class.
 */
const workspace = workspacesForFile();
const NOW = '2026-04-10T12:00:00Z';

const lastLine = (result: CliResult) => result.stderr.trimEnd().split('\n').at(-1);
const runIdOf = (result: CliResult) => /^\S+ (\S+) \(/.exec(result.stdout)?.[1];

/** Runs a failing command; returns its run id (when it got one) and its next step, as stderr's last line says. */
async function failing(args: string[], config: string, code: number, env: Record<string, string> = {}) {
  const result = await aetl([...args, '--config', config], { AETL_NOW: NOW, ...env });
  expect(result.code, result.stderr).toBe(code);
  const last = lastLine(result)!;
  expect(last).toMatch(/^next: /);
  return { runId: runIdOf(result), next: last.slice('next: '.length), result };
}

/** `aetl status` prints the newest run's next step. */
async function statusNext(config: string): Promise<string | undefined> {
  const status = await aetl(['status', '--config', config], { AETL_NOW: NOW });
  expect(status.code, status.stderr).toBe(0);
  return /^next: (.*)$/m.exec(status.stdout)?.[1];
}

/** A files-source workspace holding `files` (name → content). */
function filesConfig(files: Record<string, string | Buffer>, overrides: Record<string, unknown> = {}): string {
  const ws = workspace();
  for (const [name, content] of Object.entries(files)) writeFileSync(ws.path(name), content);
  return ws.writeConfig({ source: { kind: 'files', files: ws.path('*.jsonl*') }, ...overrides });
}

describe('the next step after a failure', () => {
  it('reject rate over the limit: list the run’s rejects, then replay them (stderr, status --json, runs show)', async () => {
    const config = filesConfig({ 'a.jsonl': `${JSON.stringify(shapeA('ok-1', 1))}\n{"id": "broken", ` });
    const { runId, next } = await failing(['run'], config, 1);
    expect(runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(next).toContain(`aetl rejects list --run ${runId}`);
    expect(next).toContain(`aetl rejects replay --run ${runId}`);
    const json = await aetl(['status', '--json', '--config', config], { AETL_NOW: NOW });
    const runs = (JSON.parse(json.stdout) as { runs: { run_id: string; next_step: string | null }[] }).runs;
    expect(runs).toEqual([expect.objectContaining({ run_id: runId, next_step: next })]);
    const shown = await aetl(['runs', 'show', runId!, '--config', config], { AETL_NOW: NOW });
    expect(shown.stdout).toContain(`next     ${next}`);
  });

  it('an unreadable file: names it and says to run again once it is repaired', async () => {
    const truncated = gzipSync(JSON.stringify(shapeA('t-1', 2))).subarray(0, 20);
    const config = filesConfig({ 'a.jsonl': JSON.stringify(shapeA('g-1', 1)), 'b.jsonl.gz': truncated });
    const { next } = await failing(['run'], config, 1);
    expect(next).toMatch(/^repair or replace \S+\/b\.jsonl\.gz, then aetl run /);
    expect(await statusNext(config)).toBe(next);
  });

  it('a check failed (exit 3): show the run’s failing checks', async () => {
    const events = [shapeA('d-1', 1, { surprise_field: 1 }), shapeA('d-2', 2)];
    const config = filesConfig(
      { 'a.jsonl': jsonLines(events) },
      { checks: { schema_drift: { severity: 'error' }, anomalies: { enabled: false } } },
    );
    const { runId, next } = await failing(['run'], config, 3);
    expect(next).toContain(`aetl runs show ${runId}`);
    expect(await statusNext(config)).toBe(next);
  });

  it('a warehouse in use: re-run with --wait or --skip-if-locked, naming the holder (no run is recorded)', async () => {
    const ws = workspace();
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('*.jsonl') } });
    const holder = { token: 't', pid: process.pid, host: hostname(), runId: 'r-holder', command: 'backfill' };
    mkdirSync(dirname(ws.warehouse));
    writeFileSync(`${ws.warehouse}.lock`, JSON.stringify({ ...holder, acquiredAt: NOW }));
    const { next } = await failing(['run'], config, 1);
    expect(next).toBe(
      `re-run with --wait 10m to queue behind backfill r-holder, pid ${process.pid} on ${hostname()}, since ${NOW}, ` +
        'or with --skip-if-locked to exit 0 while it runs',
    );
  });

  describe('from the Events API', () => {
    let simulator: RunningSimulator;
    beforeAll(async () => {
      const settings = simulatorSettingsFrom({ seed: 9, rate_per_minute: 1, faults: { lost_share: 0.05 } });
      simulator = await startSimulator(settings, shippedReference(), () => Date.parse(NOW), { token: 'right' });
    });
    afterAll(() => simulator.close());

    const apiConfig = (overrides: Record<string, unknown> = {}) =>
      workspace().writeConfig({
        source: { kind: 'events_api', url: simulator.url, token: '${AETL_SOURCE_TOKEN}', max_retries: 0 },
        window: { initial_start: '2026-04-10T10:00:00Z' },
        checks: { anomalies: { enabled: false }, freshness: { enabled: false } },
        ...overrides,
      });

    it('the source refuses the token (exit 2): names the environment variable and the key to fix', async () => {
      const config = apiConfig();
      const { next } = await failing(['run'], config, 2, { AETL_SOURCE_TOKEN: 'wrong' });
      expect(next).toBe(
        'fix the environment variable AETL_SOURCE_TOKEN (source.token), then aetl doctor checks it without loading anything',
      );
      expect(await statusNext(config)).toBe(next);
    });

    it('completeness blocks the checkpoint (exit 3): reconcile, or accept the loss of the blocked window', async () => {
      const config = apiConfig();
      const { next } = await failing(['run'], config, 3, { AETL_SOURCE_TOKEN: 'right' });
      expect(next).toMatch(
        /^aetl reconcile if the source re-sends the missing events; if it lost them for good: aetl accept-loss --from 2026-04-10T\d\d:\d\d:00\.000Z --to 2026-04-10T\d\d:\d\d:00\.000Z --reason TEXT/,
      );
      expect(await statusNext(config)).toBe(next);
    });
  });
});
