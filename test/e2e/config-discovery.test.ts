import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { Workspace } from '../helpers/workspace.js';

/** The config file a command used, from its `config` log record on stderr. */
function usedConfig(stderr: string): { config: string; found_by: string } {
  const record = stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; config: string; found_by: string })
    .find((r) => r.msg === 'config');
  if (record === undefined) throw new Error(`no config log record in:\n${stderr}`);
  return { config: record.config, found_by: record.found_by };
}

/**
 * DESIGN.md decision 23: `--config`, else `AETL_CONFIG`, else `./aetl.yaml`,
 * else `./config/aetl.yaml`, each command saying which; and a secret is
 * resolved only by a command that uses it.
 */
describe('config discovery and secrets resolved only where used', () => {
  const ws = new Workspace();
  const noEnvConfig = { AETL_CONFIG: '' };
  // An Events API source whose token comes from a variable the read-only commands never need.
  const writeConfig = (file: string, pipeline: string) => {
    mkdirSync(ws.path(file, '..'), { recursive: true });
    writeFileSync(
      ws.path(file),
      [
        `pipeline: { name: ${pipeline} }`,
        'source:',
        '  kind: events_api',
        '  url: http://127.0.0.1:9/v1',
        '  token: ${AETL_TEST_UNSET_TOKEN}',
        `warehouse: { kind: duckdb, path: ${pipeline}.duckdb }`,
        `lake: { path: lake-${pipeline} }`,
        `staging: { path: staging-${pipeline} }`,
      ].join('\n'),
    );
  };
  beforeAll(() => {
    writeConfig('aetl.yaml', 'here');
    writeConfig('config/aetl.yaml', 'nested');
    writeConfig('elsewhere/named.yaml', 'named');
  });
  afterAll(() => ws.remove());

  const status = (args: string[], env: Record<string, string> = noEnvConfig, cwd = ws.path('.')) =>
    aetl(['status', '--json', ...args], env, 60_000, cwd);

  it('--config wins over AETL_CONFIG, which wins over ./aetl.yaml, which wins over ./config/aetl.yaml', async () => {
    const named = ws.path('elsewhere/named.yaml');
    const byFlag = await status(['--config', named], { AETL_CONFIG: ws.path('aetl.yaml') });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(usedConfig(byFlag.stderr)).toEqual({ config: named, found_by: '--config' });
    expect((JSON.parse(byFlag.stdout) as { pipeline: string }).pipeline).toBe('named');

    const byEnv = await status([], { AETL_CONFIG: named });
    expect(usedConfig(byEnv.stderr)).toEqual({ config: named, found_by: 'AETL_CONFIG' });

    const here = await status([]);
    expect(usedConfig(here.stderr)).toEqual({ config: 'aetl.yaml', found_by: 'the working folder' });
    expect((JSON.parse(here.stdout) as { pipeline: string }).pipeline).toBe('here');

    writeConfig('only-nested/config/aetl.yaml', 'nested');
    const fallback = await status([], noEnvConfig, ws.path('only-nested'));
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(usedConfig(fallback.stderr)).toEqual({ config: 'config/aetl.yaml', found_by: 'the working folder' });
  });

  it('with no config anywhere: exit 2, saying where it looked', async () => {
    mkdirSync(ws.path('empty'), { recursive: true });
    const none = await status([], noEnvConfig, ws.path('empty'));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no config found');
    expect(none.stderr).toContain('./aetl.yaml nor ./config/aetl.yaml');
    expect(none.stderr).toContain('aetl init');
  });

  it('read-only commands run with the source token unset; a command that pulls from the source says which variable', async () => {
    for (const args of [
      ['status'],
      ['rejects', 'list'],
      ['query', 'model_usage_and_cost', '-p', 'from=2026-01-01', '-p', 'to=2026-02-01'],
      ['migrate'],
    ]) {
      const result = await aetl([...args, '--json'], noEnvConfig, 60_000, ws.path('.'));
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    const run = await aetl(['run'], noEnvConfig, 60_000, ws.path('.'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('source.token: environment variable AETL_TEST_UNSET_TOKEN is not set');
  });
});
