import type { Dialect } from '../dialect.js';
import { int, int64, text, type SqlEngine, type SqlParams } from '../driver.js';

/**
 * The run lock on BigQuery and Snowflake (DESIGN.md decision 18), as SQL text
 * written once against the dialect: one `etl_lock` row per pipeline holding a
 * lease (its holder, and an expiry by the warehouse's clock) and a fencing
 * token that grows by one with every takeover.
 *
 * - acquire: one conditional MERGE, inserting the row when absent and taking
 *   it over when expired (or still at the token of a holder known to be dead);
 *   whether we got it is read back (`holder`).
 * - renew: the heartbeat, and the fence inside every commit; it matches our
 *   run and token, so a holder whose lease was taken over changes nothing.
 * - release: expires the row instead of deleting it, so tokens never repeat
 *   (a new row would start again at 1, the token of some paused holder).
 */
export const LEASE_TABLE = 'etl_lock';

export interface LeaseSql {
  acquire: string;
  holder: string;
  renew: string;
  release: string;
}

/** Who a lease names, as this run binds it. */
export interface LeaseHolder {
  pipeline: string;
  runId: string;
  token: bigint;
  leaseMs: number;
}

export function leaseSql(d: Dialect): LeaseSql {
  const t = d.table(LEASE_TABLE);
  const p = (name: string) => d.param(name);
  const ours = `pipeline = ${p('lease_pipeline')} AND owner = ${p('lease_owner')} AND token = ${p('lease_token')}`;
  return {
    // Bound values enter through the source row: Snowflake refuses casts of binds in a VALUES list.
    acquire: `MERGE INTO ${t} l
USING (SELECT ${p('lease_pipeline')} AS pipeline, ${p('lease_owner')} AS owner, ${p('lease_host')} AS host,
  ${p('lease_pid')} AS pid, ${p('lease_command')} AS command, ${d.serverTime()} AS now_at,
  ${d.serverTime('lease_ms')} AS expires_at, ${p('lease_dead_token')} AS dead_token) s
ON l.pipeline = s.pipeline
WHEN MATCHED AND (l.expires_at <= s.now_at OR l.token = s.dead_token) THEN UPDATE SET owner = s.owner, host = s.host, pid = s.pid,
  command = s.command, acquired_at = s.now_at, heartbeat_at = s.now_at, expires_at = s.expires_at, token = l.token + 1
WHEN NOT MATCHED THEN INSERT (pipeline, owner, host, pid, command, acquired_at, heartbeat_at, expires_at, token)
  VALUES (s.pipeline, s.owner, s.host, s.pid, s.command, s.now_at, s.now_at, s.expires_at, 1)`,
    holder: `SELECT owner, host, pid, command, token, ${d.epochMs('acquired_at')} AS acquired_ms,
  ${d.epochMs('expires_at')} AS expires_ms, ${d.epochMs('expires_at')} - ${d.epochMs(d.serverTime())} AS remaining_ms
FROM ${t} WHERE pipeline = ${p('lease_pipeline')}`,
    renew: `UPDATE ${t} SET heartbeat_at = ${d.serverTime()}, expires_at = ${d.serverTime('lease_ms')} WHERE ${ours}`,
    release: `UPDATE ${t} SET expires_at = ${d.serverTime()} WHERE ${ours}`,
  };
}

/** What every lease statement binds: whose lease, and for how long a renewal extends it. */
function ownParams(lease: Omit<LeaseHolder, 'token'>): SqlParams {
  return { lease_pipeline: text(lease.pipeline), lease_owner: text(lease.runId), lease_ms: int(lease.leaseMs) };
}

/** The parameters of `renew` and `release`. */
export function leaseParams(lease: LeaseHolder): SqlParams {
  return { ...ownParams(lease), lease_token: int(lease.token) };
}

/**
 * The parameters of `acquire`: who asks, as messages and `aetl doctor` name a holder, and the
 * token of a live lease whose holder is known to be dead (null when none), taken over at once.
 */
export function acquireParams(
  lease: Omit<LeaseHolder, 'token'>,
  asker: { host: string; pid: number; command: string },
  deadToken: bigint | null,
): SqlParams {
  return {
    ...ownParams(lease),
    lease_host: text(asker.host),
    lease_pid: int(asker.pid),
    lease_command: text(asker.command),
    lease_dead_token: int(deadToken),
  };
}

/** A lease row as read back; `remainingMs` ≤ 0 means expired (by the warehouse's clock). */
export interface LeaseRow {
  runId: string;
  host: string;
  pid: number;
  command: string;
  token: bigint;
  acquiredMs: number;
  expiresMs: number;
  remainingMs: number;
}

/** The pipeline's lease row, or undefined when it has none yet. */
export async function readLease(engine: SqlEngine, sql: LeaseSql, pipeline: string): Promise<LeaseRow | undefined> {
  const [row] = await engine.run('reading the run lock lease', sql.holder, { lease_pipeline: text(pipeline) });
  if (!row) return undefined;
  const num = (value: unknown) => Number(int64(value));
  return {
    runId: String(row.owner),
    host: String(row.host),
    pid: num(row.pid),
    command: String(row.command),
    token: int64(row.token),
    acquiredMs: num(row.acquired_ms),
    expiresMs: num(row.expires_ms),
    remainingMs: num(row.remaining_ms),
  };
}
