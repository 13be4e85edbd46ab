import type { DriftField } from '../warehouse.js';
import { text, type SqlEngine } from '../driver.js';

/** Fields `aetl status` lists, newest first. */
const STATUS_FIELDS = 20;

/** Unknown source fields as the loads recorded them in etl_schema_drift, for `aetl status` and the schema_drift check. */
export class SqlDrift {
  constructor(private readonly engine: SqlEngine) {}

  /** The newest fields; `new` when one of the `listed` runs saw it first. */
  async fields(pipeline: string, listed: ReadonlySet<string>): Promise<DriftField[]> {
    const d = this.engine.dialect;
    const rows = await this.engine.run(
      'reading schema drift',
      `SELECT field_path, ${d.epochMs('first_seen')} AS first_seen_ms, ${d.epochMs('last_seen')} AS last_seen_ms,
         seen_count, example_type, first_run_id
       FROM ${d.table('etl_schema_drift')} WHERE pipeline = ${d.param('pipeline')}
       ORDER BY first_seen DESC, field_path LIMIT ${STATUS_FIELDS}`,
      { pipeline: text(pipeline) },
    );
    return rows.map((r) => ({
      field: String(r.field_path),
      first_seen: new Date(Number(r.first_seen_ms)).toISOString(),
      last_seen: new Date(Number(r.last_seen_ms)).toISOString(),
      count: Number(r.seen_count),
      example_type: String(r.example_type),
      new: listed.has(String(r.first_run_id)),
    }));
  }

  /** The fields this run saw first. */
  async firstSeenBy(pipeline: string, runId: string): Promise<{ field: string; count: number; type: string }[]> {
    const d = this.engine.dialect;
    const rows = await this.engine.run(
      'reading new schema drift',
      `SELECT field_path, seen_count, example_type FROM ${d.table('etl_schema_drift')}
       WHERE pipeline = ${d.param('pipeline')} AND first_run_id = ${d.param('run_id')} ORDER BY field_path`,
      { pipeline: text(pipeline), run_id: text(runId) },
    );
    return rows.map((r) => ({
      field: String(r.field_path),
      count: Number(r.seen_count),
      type: String(r.example_type),
    }));
  }
}
