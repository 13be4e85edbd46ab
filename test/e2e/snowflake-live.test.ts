import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnowflakeClient, type SnowflakeSettings } from '../../src/warehouse/snowflake/snowflake-driver.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * The e2e scenario against a real Snowflake account, only with SNOWFLAKE_LIVE=1
 * and SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_DATABASE, SNOWFLAKE_WAREHOUSE
 * and SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH (SNOWFLAKE_ROLE optional).
 * It creates a schema of its own in the database and drops it afterwards.
 */
const env = process.env;
const live =
  env.SNOWFLAKE_LIVE === '1' &&
  [env.SNOWFLAKE_ACCOUNT, env.SNOWFLAKE_USER, env.SNOWFLAKE_DATABASE, env.SNOWFLAKE_WAREHOUSE].every(Boolean) &&
  Boolean(env.SNOWFLAKE_PASSWORD || env.SNOWFLAKE_PRIVATE_KEY_PATH);
const reason =
  'set SNOWFLAKE_LIVE=1, SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_DATABASE, SNOWFLAKE_WAREHOUSE and ' +
  'SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH to run it';
if (!live) console.info(`snowflake-live: skipped (${reason})`);

describe.skipIf(!live)(`simulator → aetl run → live Snowflake (${live ? 'live' : `skipped: ${reason}`})`, () => {
  const schema = `AETL_LIVE_${randomBytes(4).toString('hex').toUpperCase()}`;
  const settings: SnowflakeSettings = {
    account: env.SNOWFLAKE_ACCOUNT ?? '',
    user: env.SNOWFLAKE_USER ?? '',
    auth: env.SNOWFLAKE_PASSWORD
      ? { password: env.SNOWFLAKE_PASSWORD }
      : { privateKeyPath: env.SNOWFLAKE_PRIVATE_KEY_PATH ?? '', passphrase: env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE },
    database: env.SNOWFLAKE_DATABASE ?? '',
    schema,
    role: env.SNOWFLAKE_ROLE,
    warehouse: env.SNOWFLAKE_WAREHOUSE,
  };
  const duck = new Workspace();
  const sf = new Workspace();
  const simulator = { seed: 11, rate_per_minute: 3 };
  let client: SnowflakeClient;

  beforeAll(async () => {
    client = await SnowflakeClient.connect(settings);
    await client.query('creating the test schema', `CREATE SCHEMA "${settings.database.toUpperCase()}"."${schema}"`);
  }, 120_000);
  afterAll(async () => {
    await client
      ?.query(
        'dropping the test schema',
        `DROP SCHEMA IF EXISTS "${settings.database.toUpperCase()}"."${schema}" CASCADE`,
      )
      .catch(() => undefined);
    await client?.close();
    duck.remove();
    sf.remove();
  }, 120_000);

  it('loads the same facts as the DuckDB warehouse, twice without duplicates', async () => {
    const auth = env.SNOWFLAKE_PASSWORD
      ? { password: '${SNOWFLAKE_PASSWORD}' }
      : { private_key_path: env.SNOWFLAKE_PRIVATE_KEY_PATH };
    const sfConfig = sf.writeConfig({
      source: { kind: 'simulator', simulator },
      warehouse: {
        kind: 'snowflake',
        account: settings.account,
        user: settings.user,
        ...auth,
        ...(env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE && { private_key_passphrase: '${SNOWFLAKE_PRIVATE_KEY_PASSPHRASE}' }),
        database: settings.database,
        schema,
        warehouse: settings.warehouse,
        ...(settings.role && { role: settings.role }),
      },
    });
    const duckConfig = duck.writeConfig({ source: { kind: 'simulator', simulator } });
    for (const now of ['2026-05-01T12:00:00.000Z', '2026-05-01T12:20:00.000Z']) {
      const run = await aetl(['run', '--config', sfConfig], { AETL_NOW: now }, 600_000);
      expect(run.code, run.stderr).toBe(0);
      expect((await aetl(['run', '--config', duckConfig], { AETL_NOW: now })).code).toBe(0);
    }
    const [rows] = await client.query(
      'reading the facts',
      `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids, CAST(SUM(cost_usd) AS VARCHAR) AS cost
       FROM "${settings.database.toUpperCase()}"."${schema}"."FACT_AI_EVENT"`,
    );
    const [expected] = await query(
      duck.warehouse,
      'SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(cost_usd) AS cost FROM fact_ai_event',
    );
    expect(Number(rows!.n)).toBe(Number(expected!.n));
    expect(Number(rows!.ids)).toBe(Number(expected!.n));
    expect(Number(rows!.cost)).toBeCloseTo(Number(expected!.cost), 6);
  }, 900_000);
});
