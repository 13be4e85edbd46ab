import { REFERENCE_DIMENSIONS } from '../../reference/reference-data.js';
import type { SqlRunner } from './duckdb-driver.js';

/**
 * `aetl rebuild-dims`: points every fact at the member version valid at its
 * event time (after history was added to reference data). Returns the number
 * of fact rows whose keys changed.
 */
export async function rekeyFacts(runner: SqlRunner): Promise<number> {
  let changed = 0;
  for (const spec of Object.values(REFERENCE_DIMENSIONS)) {
    for (const fact of ['fact_ai_event', 'fact_policy_evaluation']) {
      const rows = await runner.rows(
        `UPDATE ${fact} SET ${spec.key} = n.${spec.key}
         FROM ${spec.table} o, ${spec.table} n
         WHERE ${fact}.${spec.key} = o.${spec.key} AND n.${spec.natural} = o.${spec.natural}
           AND ${fact}.event_ts >= n.valid_from AND ${fact}.event_ts < n.valid_to
           AND ${fact}.${spec.key} <> n.${spec.key}
         RETURNING ${fact}.event_id`,
      );
      if (fact === 'fact_ai_event') changed += rows.length;
    }
  }
  return changed;
}
