import {
  REFERENCE_DIMENSIONS,
  type ReferenceData,
  type ReferenceKind,
  type Scd2Spec,
} from '../../reference/reference-data.js';
import {
  FIRST_VALID_FROM_MS,
  planScd2,
  versionKey,
  type Attributes,
  type MemberVersion,
} from '../../transform/scd2.js';
import { iso, toNumber, type Params, type SqlRunner } from './duckdb-driver.js';
import * as sql from './duckdb-sql.js';

function specOf(kind: ReferenceKind): Scd2Spec {
  return REFERENCE_DIMENSIONS[kind];
}

async function versionsOf(runner: SqlRunner, spec: Scd2Spec): Promise<MemberVersion[]> {
  const attributes = spec.attributes.map((c) => `${c}::VARCHAR AS ${c}`).join(', ');
  const rows = await runner.rows(
    `SELECT ${spec.key} AS key, ${spec.natural} AS natural_key, epoch_ms(valid_from) AS valid_from_ms, is_inferred, ${attributes}
     FROM ${spec.table} WHERE ${spec.key} <> 0 ORDER BY natural_key, valid_from`,
  );
  return rows.map((r) => ({
    key: r.key as bigint,
    natural: String(r.natural_key),
    validFromMs: toNumber(r.valid_from_ms),
    inferred: Boolean(r.is_inferred),
    attributes: Object.fromEntries(spec.attributes.map((c) => [c, (r[c] as string | null) ?? null])),
  }));
}

async function insertVersion(runner: SqlRunner, spec: Scd2Spec, version: MemberVersion): Promise<void> {
  const columns = spec.attributes;
  await runner.exec(
    `INSERT INTO ${spec.table} (${spec.key}, ${spec.natural}, ${columns.join(', ')}, valid_from, valid_to, is_current, is_inferred)
     VALUES ($key, $natural, ${columns.map((c) => `$${c}`).join(', ')}, $valid_from::TIMESTAMPTZ,
             TIMESTAMPTZ '9999-12-31 00:00:00+00', true, $inferred)`,
    {
      key: version.key,
      natural: version.natural,
      valid_from: iso(version.validFromMs),
      inferred: version.inferred,
      ...version.attributes,
    },
  );
}

async function updateVersion(runner: SqlRunner, spec: Scd2Spec, key: bigint, attributes: Attributes): Promise<void> {
  const sets = spec.attributes.map((c) => `${c} = $${c}`).join(', ');
  await runner.exec(`UPDATE ${spec.table} SET ${sets}, is_inferred = false WHERE ${spec.key} = $key`, {
    key,
    ...attributes,
  } as Params);
}

/** Each version ends where the member's next one starts; the last one is current. */
async function chainVersions(runner: SqlRunner, spec: Scd2Spec): Promise<void> {
  await runner.exec(
    `UPDATE ${spec.table} SET valid_to = coalesce(n.next_from, TIMESTAMPTZ '9999-12-31 00:00:00+00'),
            is_current = n.next_from IS NULL
     FROM (SELECT ${spec.key} AS k, lead(valid_from) OVER (PARTITION BY ${spec.natural} ORDER BY valid_from) AS next_from
           FROM ${spec.table}) n
     WHERE ${spec.key} = n.k
       AND (valid_to IS DISTINCT FROM coalesce(n.next_from, TIMESTAMPTZ '9999-12-31 00:00:00+00')
            OR is_current IS DISTINCT FROM (n.next_from IS NULL))`,
  );
}

/** Brings the SCD2 dimensions in line with the reference CSVs (see transform/scd2.ts for the rules). */
export async function syncReferenceDimensions(
  runner: SqlRunner,
  reference: ReferenceData,
  nowMs: number,
): Promise<number> {
  let changes = 0;
  for (const kind of Object.keys(REFERENCE_DIMENSIONS) as ReferenceKind[]) {
    const spec = specOf(kind);
    const plan = planScd2(spec.table, await versionsOf(runner, spec), reference[kind], nowMs);
    for (const change of plan) {
      if (change.kind === 'insert') await insertVersion(runner, spec, change.version);
      else await updateVersion(runner, spec, change.key, change.attributes);
    }
    if (plan.length > 0) await chainVersions(runner, spec);
    changes += plan.length;
  }
  return changes;
}

/**
 * A fact whose member is not in reference data gets an inferred member (its
 * first version, so reference data can complete it in place later), never a
 * dropped row. Reads the natural keys of the `to_insert` batch table.
 */
export async function insertInferredMembers(runner: SqlRunner, policyFiles: string[]): Promise<void> {
  const missing: [Scd2Spec, string][] = [
    [specOf('users'), sql.MISSING_MEMBERS_SQL.users],
    [specOf('gateways'), sql.MISSING_MEMBERS_SQL.gateways],
    [specOf('models'), sql.MISSING_MEMBERS_SQL.models],
  ];
  for (const [spec, query] of missing) {
    for (const row of await runner.rows(query)) {
      const natural = String(row.id);
      const attributes = Object.fromEntries(spec.attributes.map((c) => [c, (row[c] as string | undefined) ?? null]));
      await insertVersion(runner, spec, {
        key: versionKey(spec.table, natural, FIRST_VALID_FROM_MS),
        natural,
        validFromMs: FIRST_VALID_FROM_MS,
        attributes,
        inferred: true,
      });
    }
  }
  if (policyFiles.length === 0) return;
  for (const row of await runner.rows(sql.missingPoliciesSql(policyFiles))) {
    const name = String(row.id);
    await runner.exec('INSERT INTO dim_policy VALUES ($key, $name)', {
      key: versionKey('dim_policy', name, FIRST_VALID_FROM_MS),
      name,
    });
  }
}

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
