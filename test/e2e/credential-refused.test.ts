import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * A warehouse that refuses our credential (decision 14): exit 2, so an
 * orchestrator does not retry what cannot succeed, with a message naming the
 * config key to fix and never the secret.
 */
const REMOTE = ENGINES.filter((e) => e.name !== 'duckdb');
const KEY = { bigquery: 'warehouse.access_token', snowflake: 'warehouse.password' } as Record<string, string>;

describe.each(REMOTE)('$name refuses the credential', ({ name, start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  beforeAll(async () => {
    engine = await start(ws);
  });
  afterAll(async () => {
    await engine.close();
    ws.remove();
  });

  it('exit 2, naming the key, never the secret; the right one works', async () => {
    const config = ws.writeConfig({ warehouse: engine.warehouse });
    const wrong = Object.fromEntries(Object.entries(engine.env).map(([k, v]) => [k, `${v}-wrong-9f2c`]));
    const refused = await aetl(['migrate', '--config', config], wrong);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`check ${KEY[name]}`);
    expect(refused.stdout + refused.stderr).not.toContain('-wrong-9f2c');
    const accepted = await aetl(['migrate', '--config', config], engine.env);
    expect(accepted.code, accepted.stderr).toBe(0);
  });
});
