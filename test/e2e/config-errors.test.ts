import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { aetl } from '../helpers/cli.js';
import { Workspace } from '../helpers/workspace.js';

describe('config errors exit 2 and name the key path and file', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('an unknown key', async () => {
    const config = ws.writeConfig({ window: { lookback: '1h', max_windw: 3 } }, 'unknown.yaml');
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(config);
    expect(run.stderr).toMatch(/window\.max_windw: unknown key/);
  });

  it('a wrong type', async () => {
    const config = ws.writeConfig({ source: { kind: 'simulator', page_size: 'lots' } }, 'type.yaml');
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/source\.page_size: .*expected number/);
  });

  it('a decision alias that would re-map a decision the contract already accepts', async () => {
    const config = ws.writeConfig(
      { contract: { decision_aliases: { warned: 'allow', blocked: 'allow' } } },
      'alias.yaml',
    );
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/contract\.decision_aliases\.blocked: .*already an accepted decision value/);
    expect(run.stderr).not.toMatch(/warned/);
  });

  it('a missing environment variable', async () => {
    const config = ws.writeConfig(
      { source: { kind: 'events_api', url: 'http://127.0.0.1:9', token: '${AETL_TEST_UNSET_TOKEN}' } },
      'env.yaml',
    );
    const run = await aetl(['run', '--config', config], { AETL_TEST_UNSET_TOKEN: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/source\.token: environment variable AETL_TEST_UNSET_TOKEN is not set/);
  });

  it('a bad duration and max_window not longer than lookback', async () => {
    const config = ws.writeConfig({ window: { lookback: '2h', max_window: '90 minutes' } }, 'duration.yaml');
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/window\.max_window: expected a duration/);
    const second = ws.writeConfig({ window: { lookback: '2h', max_window: '2h' } }, 'order.yaml');
    expect((await aetl(['run', '--config', second])).stderr).toMatch(
      /window\.max_window: must be longer than window\.lookback/,
    );
  });

  it('a missing config file and an unknown command', async () => {
    const missing = await aetl(['run', '--config', ws.path('nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config .*nope\.yaml: ENOENT/);
    expect((await aetl(['frobnicate'])).code).toBe(2);
  });

  it('YAML that does not parse', async () => {
    writeFileSync(ws.path('broken.yaml'), 'source: [kind: simulator\n');
    const run = await aetl(['run', '--config', ws.path('broken.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml: not valid YAML/);
  });

  it('hostile identifiers (pipeline, dataset, schema, job names) are refused before any SQL or path is built', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pipeline: { name: '../../etc' } }, /pipeline\.name: lower-case letters, digits and _/],
      [
        { warehouse: { kind: 'bigquery', project: 'my-project', dataset: 'x`; DROP TABLE y; --' } },
        /warehouse\.dataset: letters, digits and _/,
      ],
      [
        {
          warehouse: {
            kind: 'snowflake',
            account: 'acct',
            user: 'u',
            password: 'p',
            database: 'db',
            schema: 'a"; DROP',
          },
        },
        /warehouse\.schema: letters, digits, _ and \$/,
      ],
      [
        {
          warehouse: { kind: 'snowflake', account: 'acct', user: 'u', password: 'p', database: 'db', stage: '@x/../y' },
        },
        /warehouse\.stage: letters, digits, _ and \$/,
      ],
      [
        { schedule: { jobs: { '../x': { cron: '* * * * *', command: 'run' } } } },
        /schedule\.jobs\.\.\.\/x: a job name is lower-case letters/,
      ],
    ];
    for (const [i, [overrides, message]] of cases.entries()) {
      const run = await aetl(['run', '--config', ws.writeConfig(overrides, `hostile-${i}.yaml`)]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });

  it('common mistakes say what happened and what to do: an unreachable API, a missing reference file', async () => {
    const unreachable = ws.writeConfig(
      { source: { kind: 'events_api', url: 'http://127.0.0.1:59999', token: 'a-token', max_retries: 0 } },
      'unreachable.yaml',
    );
    const down = await aetl(['run', '--config', unreachable], { AETL_NOW: '2026-06-10T06:00:00Z' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(
      'cannot reach http://127.0.0.1:59999/v1/events (ECONNREFUSED): check source.url, that the API is up',
    );
    const missing = ws.writeConfig({ reference: { users: ws.path('no-users.csv') } }, 'reference.yaml');
    const noReference = await aetl(['run', '--config', missing]);
    expect(noReference.code).toBe(2);
    expect(noReference.stderr).toMatch(
      /reference\.users: cannot read .*no-users\.csv \(ENOENT\); fix the path or remove the key/,
    );
  });
});
