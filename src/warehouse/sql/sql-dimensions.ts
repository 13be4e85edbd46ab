import {
  REFERENCE_DIMENSIONS,
  type ReferenceData,
  type ReferenceKind,
  type Scd2Spec,
} from '../../reference/reference-data.js';
import { FIRST_VALID_FROM_MS, planScd2, versionKey, type MemberVersion } from '../../transform/scd2.js';
import { DAY_MS, isoDay, startOfUtcDay } from '../../util/dates.js';
import { bool, day, instant, int, int64, numeric, text, type SqlEngine, type SqlParam } from '../driver.js';
import { markLakePendingSql } from './sql-load.js';
import { insertRowsSql } from './sql-rows.js';

/**
 * The dimensions in a remote warehouse, with the same plan (transform/scd2.ts)
 * and the same surrogate keys as DuckDB, so every warehouse holds the same history.
 */
const NUMERIC_COLUMNS = new Set(['input_price_per_1k', 'output_price_per_1k']);
/** A first load over years adds thousands of days: on Snowflake, 11 parameters each. */
const DAYS_PER_INSERT = 500;
const END_OF_TIME_MS = Date.UTC(9999, 11, 31);

/** A bound attribute as its column's type (prices are exact decimals). */
function attribute(column: string, value: string | null): SqlParam {
  return NUMERIC_COLUMNS.has(column) ? numeric(value) : text(value);
}

/** `yyyymmdd` → the UTC midnight it names. */
function dayOfKey(dateKey: number): number {
  return Date.UTC(Math.floor(dateKey / 10_000), (Math.floor(dateKey / 100) % 100) - 1, dateKey % 100);
}

export class SqlDimensions {
  constructor(private readonly engine: SqlEngine) {}

  private t(table: string): string {
    return this.engine.dialect.table(table);
  }

  private p(name: string): string {
    return this.engine.dialect.param(name);
  }

  /** A dimension's member versions, and whether each already ends where its member's next one starts, the last current. */
  private async versionsOf(spec: Scd2Spec): Promise<{ versions: MemberVersion[]; chained: boolean }> {
    const attributes = spec.attributes.map((c) => `CAST(${c} AS STRING) AS ${c}`).join(', ');
    const epochMs = (column: string) => this.engine.dialect.epochMs(column);
    const rows = await this.engine.run(
      `reading ${spec.table}`,
      `SELECT ${spec.key} AS key, ${spec.natural} AS natural_key, ${epochMs('valid_from')} AS valid_from_ms,
         ${epochMs('valid_to')} AS valid_to_ms, is_current, is_inferred, ${attributes}
       FROM ${this.t(spec.table)} WHERE ${spec.key} <> 0 ORDER BY natural_key, valid_from`,
    );
    const versions = rows.map((r) => ({
      key: int64(r.key),
      natural: String(r.natural_key),
      validFromMs: Number(r.valid_from_ms),
      inferred: Boolean(r.is_inferred),
      attributes: Object.fromEntries(spec.attributes.map((c) => [c, (r[c] as string | null) ?? null])),
    }));
    const chained = versions.every((version, i) => {
      const next = versions[i + 1]?.natural === version.natural ? versions[i + 1] : undefined;
      return (
        Number(rows[i]!.valid_to_ms) === (next?.validFromMs ?? END_OF_TIME_MS) &&
        Boolean(rows[i]!.is_current) === (next === undefined)
      );
    });
    return { versions, chained };
  }

  private async insertVersion(spec: Scd2Spec, version: MemberVersion): Promise<void> {
    const columns = spec.attributes;
    await this.engine.run(
      `adding a ${spec.table} version`,
      `INSERT INTO ${this.t(spec.table)} (${spec.key}, ${spec.natural}, ${columns.join(', ')}, valid_from, valid_to, is_current, is_inferred)
       SELECT ${['key', 'natural', ...columns, 'valid_from', 'end_of_time'].map((c) => this.p(c)).join(', ')}, TRUE, ${this.p('inferred')}`,
      {
        key: int(version.key),
        natural: text(version.natural),
        valid_from: instant(version.validFromMs),
        end_of_time: instant(END_OF_TIME_MS),
        inferred: bool(version.inferred),
        ...Object.fromEntries(columns.map((c) => [c, attribute(c, version.attributes[c] ?? null)])),
      },
    );
  }

  /** Each version ends where the member's next one starts; the last one is current. */
  private async chainVersions(spec: Scd2Spec): Promise<void> {
    await this.engine.run(
      `chaining ${spec.table} versions`,
      `UPDATE ${this.t(spec.table)} d
       SET valid_to = COALESCE(n.next_from, ${this.p('end_of_time')}), is_current = n.next_from IS NULL
       FROM (SELECT ${spec.key} AS k, LEAD(valid_from) OVER (PARTITION BY ${spec.natural} ORDER BY valid_from) AS next_from
             FROM ${this.t(spec.table)}) n
       WHERE d.${spec.key} = n.k`,
      { end_of_time: instant(END_OF_TIME_MS) },
    );
  }

  /**
   * Brings the SCD2 dimensions in line with the reference CSVs; returns how many versions changed
   * (a broken chain of versions, repaired, counts as one). `beforeChange` runs before the first change, if any:
   * on BigQuery each statement commits alone, so a mark written after could be lost with the changes kept.
   */
  async syncReference(reference: ReferenceData, nowMs: number, beforeChange: () => Promise<void>): Promise<number> {
    let changes = 0;
    for (const kind of Object.keys(REFERENCE_DIMENSIONS) as ReferenceKind[]) {
      const spec = REFERENCE_DIMENSIONS[kind];
      const { versions, chained } = await this.versionsOf(spec);
      const plan = planScd2(spec.table, versions, reference[kind], nowMs);
      if (plan.length > 0 || !chained) await beforeChange();
      for (const change of plan) {
        if (change.kind === 'insert') {
          await this.insertVersion(spec, change.version);
          continue;
        }
        const sets = spec.attributes.map((c) => `${c} = ${this.p(c)}`).join(', ');
        await this.engine.run(
          `completing a ${spec.table} member`,
          `UPDATE ${this.t(spec.table)} SET ${sets}, is_inferred = FALSE WHERE ${spec.key} = ${this.p('key')}`,
          {
            key: int(change.key),
            ...Object.fromEntries(spec.attributes.map((c) => [c, attribute(c, change.attributes[c] ?? null)])),
          },
        );
      }
      // Also with no change when a chain is broken: a run killed between a version's insert and the
      // chaining, before syncs were one transaction, left two open versions (later facts: two members).
      if (plan.length > 0 || !chained) await this.chainVersions(spec);
      changes += plan.length + (chained ? 0 : 1);
    }
    return changes;
  }

  /**
   * A fact whose member is not in reference data gets an inferred member, and
   * a policy not seen before its row in dim_policy, before the facts are merged.
   * `beforeChange` runs before the first row is added, if any is.
   */
  async insertInferredMembers(
    staging: { events: string; policies: string | null },
    beforeChange: () => Promise<void>,
  ): Promise<void> {
    for (const spec of Object.values(REFERENCE_DIMENSIONS)) {
      const provider = spec.table === 'dim_model' ? ', MIN(provider) AS provider' : '';
      const missing = await this.engine.run(
        `finding members missing from ${spec.table}`,
        `SELECT ${spec.natural} AS id${provider} FROM ${this.t(staging.events)} e
         WHERE ${spec.natural} IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ${this.t(spec.table)} d WHERE d.${spec.natural} = e.${spec.natural})
         GROUP BY ${spec.natural}`,
      );
      if (missing.length > 0) await beforeChange();
      for (const row of missing) {
        const natural = String(row.id);
        const attributes = Object.fromEntries(spec.attributes.map((c) => [c, (row[c] as string | undefined) ?? null]));
        await this.insertVersion(spec, {
          key: versionKey(spec.table, natural, FIRST_VALID_FROM_MS),
          natural,
          validFromMs: FIRST_VALID_FROM_MS,
          attributes,
          inferred: true,
        });
      }
    }
    if (staging.policies === null) return;
    const policies = await this.engine.run(
      'finding policies missing from dim_policy',
      `SELECT DISTINCT policy_name AS id FROM ${this.t(staging.policies)} p
       WHERE NOT EXISTS (SELECT 1 FROM ${this.t('dim_policy')} d WHERE d.policy_name = p.policy_name)`,
    );
    if (policies.length > 0) await beforeChange();
    for (const row of policies) {
      const name = String(row.id);
      await this.engine.run(
        'adding a policy',
        `INSERT INTO ${this.t('dim_policy')} (policy_key, policy_name) SELECT ${this.p('key')}, ${this.p('name')}`,
        { key: int(versionKey('dim_policy', name, FIRST_VALID_FROM_MS)), name: text(name) },
      );
    }
  }

  /**
   * `aetl rebuild-dims`: points facts and policy rows at the member versions valid
   * at their event times. `count` (facts whose keys change) and the lake marks
   * read the facts before `statements` re-key them, so run them in that order,
   * together; they bind `pipeline` and `run_id`.
   */
  rekeyQueries(): { count: string; statements: string[] } {
    const specs = Object.values(REFERENCE_DIMENSIONS);
    // The version `n` of the member `o` a row points at, valid at its event time, where that is another version.
    const stale = (spec: Scd2Spec, row: string) =>
      `${row}.${spec.key} = o.${spec.key} AND o.${spec.key} <> 0 AND n.${spec.natural} = o.${spec.natural}
       AND ${row}.event_ts >= n.valid_from AND ${row}.event_ts < n.valid_to AND ${row}.${spec.key} <> n.${spec.key}`;
    const staleFacts = specs
      .map(
        (spec) =>
          `SELECT f.event_id, f.date_key FROM ${this.t('fact_ai_event')} f, ${this.t(spec.table)} o, ${this.t(spec.table)} n
           WHERE ${stale(spec, 'f')}`,
      )
      .join('\nUNION ALL\n');
    // One source row per target row (versions do not overlap), as BigQuery's UPDATE ... FROM requires.
    const updates = specs.flatMap((spec) =>
      ['fact_ai_event', 'fact_policy_evaluation'].map(
        (fact) =>
          `UPDATE ${this.t(fact)} f SET ${spec.key} = n.${spec.key}
           FROM ${this.t(spec.table)} o, ${this.t(spec.table)} n
           WHERE ${stale(spec, 'f')}`,
      ),
    );
    const d = this.engine.dialect;
    return {
      count: `SELECT COUNT(DISTINCT s.event_id) AS n FROM (${staleFacts}) s`,
      statements: [
        markLakePendingSql(d, `SELECT s.date_key FROM (${staleFacts}) s`),
        markLakePendingSql(d, null),
        ...updates,
        // Rows re-keyed in place keep their hour's count and load times: no hour stays verified.
        `DELETE FROM ${this.t('dq_verified_hour')} WHERE TRUE`, // BigQuery's DELETE needs a WHERE
      ],
    };
  }

  /**
   * dim_date covers the whole loaded range without gaps (quiet days are days too), as in DuckDB.
   * `beforeChange` runs before days are added, if any are.
   */
  async insertMissingDates(batchFromMs: number, batchToMs: number, beforeChange: () => Promise<void>): Promise<void> {
    const present = new Set(
      (await this.engine.run('reading dim_date', `SELECT date_key FROM ${this.t('dim_date')}`)).map((r) =>
        Number(r.date_key),
      ),
    );
    const keys = [...present];
    const lo = Math.min(startOfUtcDay(batchFromMs), ...keys.map(dayOfKey));
    const hi = Math.max(startOfUtcDay(batchToMs), ...keys.map(dayOfKey));
    const missing: number[] = [];
    for (let d = lo; d <= hi; d += DAY_MS) if (!present.has(dateRow(d).date_key)) missing.push(d);
    if (missing.length > 0) await beforeChange();
    for (let i = 0; i < missing.length; i += DAYS_PER_INSERT)
      await this.insertDays(missing.slice(i, i + DAYS_PER_INSERT));
  }

  private async insertDays(days: number[]): Promise<void> {
    if (days.length === 0) return;
    const rows = days.map((dayMs) =>
      Object.fromEntries(
        Object.entries(dateRow(dayMs)).map(([column, value]): [string, SqlParam] => [
          column,
          typeof value === 'boolean'
            ? bool(value)
            : typeof value === 'number'
              ? int(value)
              : column === 'date'
                ? day(value)
                : text(value),
        ]),
      ),
    );
    const { sql, params } = insertRowsSql(this.engine.dialect, 'dim_date', rows);
    await this.engine.run('adding dim_date days', sql, params);
  }
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** One dim_date row, as DuckDB's date functions give it (ISO week and weekday, English names). */
function dateRow(dayMs: number) {
  const d = new Date(dayMs);
  const isoDow = ((d.getUTCDay() + 6) % 7) + 1;
  // ISO week: the week of this week's Thursday.
  const thursday = new Date(dayMs + (4 - isoDow) * DAY_MS);
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const isoWeek = Math.floor((thursday.getTime() - yearStart) / DAY_MS / 7) + 1;
  const month = d.getUTCMonth() + 1;
  return {
    date_key: d.getUTCFullYear() * 10_000 + month * 100 + d.getUTCDate(),
    date: isoDay(dayMs),
    year: d.getUTCFullYear(),
    quarter: Math.ceil(month / 3),
    month,
    month_name: MONTHS[month - 1]!,
    iso_week: isoWeek,
    day_of_month: d.getUTCDate(),
    day_of_week: isoDow,
    day_name: DAYS[isoDow - 1]!,
    is_weekend: isoDow >= 6,
  };
}
