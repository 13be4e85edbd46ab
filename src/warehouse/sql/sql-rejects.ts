import type { RejectFilter, RejectKey, StoredReject } from '../warehouse.js';
import { text, withInstants, type SqlEngine, type SqlParams } from '../driver.js';

/**
 * The quarantine for `aetl rejects`, on every engine: listing it and reading
 * what a replay re-validates. Replayed records are marked by the load that
 * took them in, never deleted: the quarantine is the record of what arrived.
 */
export class SqlRejects {
  constructor(private readonly engine: SqlEngine) {}

  /** Newest first; `--reason` looks for its text in the whole reasons list, as stored (JSON). */
  async list(pipeline: string, filter: RejectFilter): Promise<Record<string, unknown>[]> {
    const d = this.engine.dialect;
    const params: SqlParams = { pipeline: text(pipeline) };
    const where = [`pipeline = ${d.param('pipeline')}`];
    if (!filter.replayed) where.push('replayed_at IS NULL');
    if (filter.runId !== null) {
      where.push(`run_id = ${d.param('run_id')}`);
      params.run_id = text(filter.runId);
    }
    if (filter.reason !== null) {
      where.push(`LOWER(${d.jsonString('reasons')}) LIKE ${d.param('reason')}`);
      params.reason = text(`%${filter.reason.toLowerCase()}%`);
    }
    const rows = await this.engine.run(
      'listing rejects',
      `SELECT run_id, ${d.epochMs('rejected_at')} AS rejected_at_ms, source_location, source_ref, event_id,
         ${d.jsonText('reasons', '$[0].path')} AS field, ${d.jsonText('reasons', '$[0].message')} AS reason,
         payload_bytes, payload_truncated, ${d.epochMs('replayed_at')} AS replayed_at_ms, replayed_run_id
       FROM ${d.table('etl_rejected_event')} WHERE ${where.join(' AND ')}
       ORDER BY rejected_at DESC, source_location, source_ref
       LIMIT ${Math.trunc(filter.limit)}`,
      params,
    );
    return rows.map((row) => withInstants(row, ['rejected_at_ms', 'replayed_at_ms']));
  }

  /**
   * One page of the quarantine not replayed yet, in key order after `after`
   * (keyset paging: memory stays bounded however many there are). Spelled out
   * rather than a row comparison, which BigQuery does not have.
   */
  async toReplay(
    pipeline: string,
    runId: string | null,
    after: RejectKey | null,
    limit: number,
  ): Promise<StoredReject[]> {
    const d = this.engine.dialect;
    const p = (name: string) => d.param(name);
    const params: SqlParams = { pipeline: text(pipeline) };
    const where = [`pipeline = ${p('pipeline')}`, 'replayed_at IS NULL'];
    if (runId !== null) {
      where.push(`run_id = ${p('run_id')}`);
      params.run_id = text(runId);
    }
    if (after !== null) {
      where.push(
        `(source_location > ${p('after_location')}
          OR (source_location = ${p('after_location')} AND payload_hash > ${p('after_hash')}))`,
      );
      params.after_location = text(after.sourceLocation);
      params.after_hash = text(after.payloadHash);
    }
    const rows = await this.engine.run(
      'reading rejects to replay',
      `SELECT source_location, source_ref, payload_hash, payload, ${d.jsonString('reasons')} AS reasons, payload_truncated
       FROM ${d.table('etl_rejected_event')} WHERE ${where.join(' AND ')}
       ORDER BY source_location, payload_hash
       LIMIT ${Math.trunc(limit)}`,
      params,
    );
    return rows.map((r) => ({
      sourceLocation: String(r.source_location),
      sourceRef: String(r.source_ref),
      payloadHash: String(r.payload_hash),
      payload: String(r.payload),
      reasonPaths: (JSON.parse(String(r.reasons)) as { path: string }[]).map((reason) => reason.path),
      truncated: r.payload_truncated === true,
    }));
  }
}
