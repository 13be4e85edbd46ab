import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A load package (after dlt): one window's staged Parquet files plus a
 * manifest, the hand-off from extract to load. A package is loaded by the
 * run that wrote it; after a crash the next run redoes the window from the
 * checkpoint (which did not move) rather than resuming a package. Column
 * order here is the order StagingWriter appends in. `staged_row` numbers
 * the events of a package uniquely (across extract workers).
 */
export const STAGING_TABLES = {
  events: {
    // Times and costs are buffered as exact integers (µs, millionths of a dollar) and typed on export.
    ddl: `CREATE TABLE events (
      staged_row BIGINT, event_id VARCHAR, event_hash VARCHAR, event_ts_us BIGINT, date_key INTEGER,
      user_id VARCHAR, gateway_id VARCHAR, model VARCHAR, provider VARCHAR, decision VARCHAR,
      latency_ms DOUBLE, input_tokens BIGINT, output_tokens BIGINT, cost_micros BIGINT,
      policies_evaluated_count INTEGER, policies_triggered_count INTEGER,
      team_id VARCHAR, batch_id VARCHAR, request_source VARCHAR, metadata VARCHAR)`,
    exported: `SELECT staged_row, event_id, event_hash, make_timestamp(event_ts_us)::TIMESTAMPTZ AS event_ts, date_key,
      user_id, gateway_id, model, provider, decision, latency_ms, input_tokens, output_tokens,
      (cost_micros::DECIMAL(18,0) * 0.000001)::DECIMAL(18,6) AS cost_usd,
      policies_evaluated_count, policies_triggered_count, team_id, batch_id, request_source, metadata
      FROM events`,
  },
  policies: {
    // A policy row names its event by staged row (a number, cheap to append); the export adds the id and hash.
    ddl: `CREATE TABLE policies (
      staged_row BIGINT, ordinal INTEGER, policy_name VARCHAR, result VARCHAR,
      latency_ms DOUBLE, entities_found INTEGER, triggered BOOLEAN)`,
    exported: `SELECT e.event_id, e.event_hash, p.* FROM policies p JOIN events e ON e.staged_row = p.staged_row`,
  },
  rejects: {
    // payload holds at most KEPT_BYTES; payload_bytes and payload_sha256 describe the whole record as read.
    ddl: `CREATE TABLE rejects (
      source_location VARCHAR, source_ref VARCHAR, payload_hash VARCHAR, payload VARCHAR,
      reasons VARCHAR, event_id VARCHAR, event_ts_us BIGINT,
      payload_bytes BIGINT, payload_sha256 VARCHAR, payload_truncated BOOLEAN)`,
    exported: `SELECT source_location, source_ref, payload_hash, payload, reasons, event_id,
      make_timestamp(event_ts_us)::TIMESTAMPTZ AS event_ts, payload_bytes, payload_sha256, payload_truncated
      FROM rejects`,
  },
} as const;

export type StagingTable = keyof typeof STAGING_TABLES;
export type StagingFiles = Record<StagingTable, string[]>;

/** Per unknown field: how many records carried it, and the JSON type of the first value seen. */
export type DriftCounts = Record<string, { count: number; type: string }>;

/** A value's JSON type name, as etl_schema_drift records it. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Adds `more` into `total`: the first type seen stays. */
export function addDrift(total: DriftCounts, more: DriftCounts): void {
  for (const [field, seen] of Object.entries(more)) {
    const known = total[field];
    if (known) known.count += seen.count;
    else total[field] = { ...seen };
  }
}

export interface ExtractCounts {
  /** Records the source returned (including out-of-window ones). */
  read: number;
  valid: number;
  rejected: number;
  outOfWindow: number;
}

export interface PackageManifest {
  runId: string;
  window: { startMs: number; endMs: number } | null;
  /** Files source: the files this package read, for the ledger. */
  sourceFiles: { path: string; size: number; sha256: string }[];
  sourceCount: number | null;
  /** Files source, on a file's last package: the records its reader found (lines, CSV rows, array items). */
  sourceRecords: number | null;
  files: StagingFiles;
  counts: ExtractCounts;
  /** Unknown top-level fields of the valid events (schema drift). */
  drift: DriftCounts;
  /** Extract worker threads that staged part of it (0: all on the main thread). */
  extractWorkers: number;
}

const MANIFEST = 'manifest.json';

/**
 * Written last and atomically: a package without a manifest is incomplete and is redone.
 * Not synced to disk (unlike the lake): every run first removes the staging folder, so no package outlives a crash.
 */
export function writeManifest(dir: string, manifest: PackageManifest): void {
  const tmp = join(dir, `${MANIFEST}.tmp`);
  writeFileSync(tmp, JSON.stringify(manifest, null, 2));
  renameSync(tmp, join(dir, MANIFEST));
}
