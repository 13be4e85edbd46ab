import { randomBytes } from 'node:crypto';
import { duckdbDialect } from './duckdb-dialect.js';
import type { SqlRunner } from './duckdb-driver.js';

/**
 * Proves this process may change the database the way a load does: creates a
 * uniquely named scratch table, inserts, MERGEs into it and drops it. All in
 * one transaction, so a crash halfway leaves nothing behind.
 */
export async function scratchTableProbe(runner: SqlRunner): Promise<void> {
  const table = `"${duckdbDialect.table(`aetl_doctor_${randomBytes(6).toString('hex')}`)}"`;
  await runner.transaction(async () => {
    await runner.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, note VARCHAR NOT NULL)`);
    await runner.exec(`INSERT INTO ${table} VALUES ($id, $inserted)`, { id: 1, inserted: 'inserted' });
    const merged = await runner.execCount(
      `MERGE INTO ${table} AS t USING (SELECT $id AS id, $merged AS note) AS s ON t.id = s.id
       WHEN MATCHED THEN UPDATE SET note = s.note
       WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.note)`,
      { id: 1, merged: 'merged' },
    );
    const [row] = await runner.rows(`SELECT note FROM ${table}`);
    if (merged !== 1 || row?.note !== 'merged') {
      throw new Error(`MERGE into a scratch table changed ${merged} rows, leaving ${JSON.stringify(row?.note)}`);
    }
    await runner.exec(`DROP TABLE ${table}`);
  });
}
