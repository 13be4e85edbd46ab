import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { lakeAsText, query, tablesAsText } from '../helpers/duckdb.js';
import { REFERENCE, shippedReference, Workspace } from '../helpers/workspace.js';

const KEY = 'pseudonym-key-for-tests-0123456789';
const PROMPT = 'PROMPT: my card number is 4111 1111';
/** The test's own HMAC, not the loader's: the pseudonym is a documented function of key and id. */
const expected = (user: string) => `u_${createHmac('sha256', KEY).update(user).digest('hex').slice(0, 32)}`;

/** Events of one simulated hour (about 5% malformed), with prompt text in metadata and as a top-level field. */
function writeEvents(file: string, minute: number): string[] {
  const universe = new EventUniverse(
    simulatorSettingsFrom({ seed: 9, rate_per_minute: 20, bad_record_rate: 0.05, unknown_member_rate: 0.1 }),
    shippedReference(),
  );
  const lines: string[] = [];
  const users = new Set<string>();
  for (let m = minute; m < minute + 60; m++) {
    for (const event of universe.eventsInMinute(m)) {
      const payload: Record<string, unknown> = {
        ...event.payload,
        metadata: { prompt: PROMPT, keep: 'kept' },
        ...(m % 2 ? { prompt: PROMPT } : {}),
      };
      const user = payload.user_id ?? payload.user;
      if (typeof user === 'string') users.add(user);
      lines.push(JSON.stringify(payload));
    }
  }
  // Broken lines that still carry a user id and prompt text.
  lines.push(`{"id": "broken-${minute}", "user_id": "user_004", "metadata": {"prompt": "${PROMPT}"}, "timest`);
  lines.push(`{"id": "cut-${minute}", "user": "user_005", "decision": "allow", "prompt": "${PROMPT}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return [...users, 'user_004', 'user_005'];
}

describe('privacy: pseudonymised users and dropped metadata keys, everywhere they land', () => {
  const ws = new Workspace();
  const rawUsers = new Set<string>();
  let config: string;
  const runs: Awaited<ReturnType<typeof aetl>>[] = [];

  beforeAll(async () => {
    for (const line of readFileSync(`${REFERENCE}/users.csv`, 'utf8').split('\n').slice(1)) {
      if (line.trim()) rawUsers.add(line.split(',')[0]!);
    }
    config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('inbox') },
      privacy: { pseudonymize_users: true, key: '${AETL_PSEUDONYM_KEY}', drop_metadata_keys: ['prompt'] },
      checks: { max_reject_rate: 1 },
    });
    const start = Math.floor(Date.parse('2026-04-01T00:00:00Z') / 60_000);
    for (const [i, file] of ['day-1.jsonl', 'day-2.jsonl'].entries()) {
      mkdirSync(ws.path('inbox'), { recursive: true });
      writeEvents(ws.path('inbox', file), start + i * 1440).forEach((u) => rawUsers.add(u));
      runs.push(await aetl(['run', '--config', config], { AETL_PSEUDONYM_KEY: KEY }));
    }
  }, 120_000);
  afterAll(() => ws.remove());

  it('both runs succeed and print no raw user id', () => {
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      for (const user of rawUsers) expect(run.stdout + run.stderr).not.toContain(user);
    }
  });

  it('no raw user id and no dropped text anywhere in the warehouse, the lake or the rejects', async () => {
    const warehouse = await tablesAsText(ws.warehouse);
    const lake = await lakeAsText(ws.lake);
    const [rejects] = await query(ws.warehouse, 'SELECT count(*) AS n FROM etl_rejected_event');
    expect(Number(rejects!.n)).toBeGreaterThan(2);
    for (const [where, text] of [
      ['warehouse', warehouse],
      ['lake', lake],
    ] as const) {
      expect(text.length, where).toBeGreaterThan(1000);
      for (const user of rawUsers) expect(text.includes(user), `${user} in the ${where}`).toBe(false);
      expect(text.includes('4111 1111'), `prompt text in the ${where}`).toBe(false);
    }
    // Other metadata stays.
    const [kept] = await query(
      ws.warehouse,
      `SELECT count(*) AS n FROM fact_ai_event WHERE metadata->>'keep' = 'kept'`,
    );
    expect(Number(kept!.n)).toBeGreaterThan(100);
    // Broken records are masked by pattern: their users pseudonymised, prompt values replaced.
    const broken = await query(ws.warehouse, "SELECT payload FROM etl_rejected_event WHERE payload LIKE '%broken-%'");
    expect(broken).toHaveLength(2);
    for (const { payload } of broken) {
      expect(String(payload)).toContain(`"user_id": "${expected('user_004')}"`);
      expect(String(payload)).toContain('"prompt": "[dropped]"');
    }
  });

  it('the same user gets the same pseudonym in both runs, so facts still join to one member', async () => {
    const users = await query(
      ws.warehouse,
      'SELECT user_id, count(*) AS versions FROM dim_user WHERE user_key <> 0 GROUP BY ALL',
    );
    for (const { user_id: id, versions } of users) {
      expect(String(id)).toMatch(/^u_[0-9a-f]{32}$/);
      expect(versions).toBe(1n);
    }
    expect(users.map((u) => u.user_id)).toEqual(expect.arrayContaining([expected('user_001'), expected('user_002')]));
    const perDay = await query(
      ws.warehouse,
      `SELECT count(DISTINCT f.date_key) AS days FROM fact_ai_event f JOIN dim_user u ON u.user_key = f.user_key
       WHERE u.user_id = '${expected('user_001')}'`,
    );
    expect(perDay[0]!.days).toBe(2n);
  });
});
