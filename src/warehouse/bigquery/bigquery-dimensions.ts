import { REFERENCE_DIMENSIONS, type ReferenceData, type ReferenceKind } from '../../reference/reference-data.js';
import { FIRST_VALID_FROM_MS, planScd2, versionKey, type MemberVersion } from '../../transform/scd2.js';
import { DAY_MS, isoDay, startOfUtcDay } from '../../util/dates.js';
import { int64, type BigQueryClient, type BigQueryParam } from './bigquery-client.js';
import { tableRef, type Dataset } from './bigquery-sql.js';

/**
 * The dimensions in BigQuery, with the same plan (transform/scd2.ts) and the
 * same surrogate keys as DuckDB, so both warehouses hold the same history.
 */
const SCD2 = Object.values(REFERENCE_DIMENSIONS).map((spec) => ({
  ...spec,
  key: `${spec.table.replace('dim_', '')}_key`,
}));
type Scd2Spec = (typeof SCD2)[number];
const NUMERIC_COLUMNS = new Set(['input_price_per_1k', 'output_price_per_1k']);
const DAYS_PER_INSERT = 500;
const END_OF_TIME = "TIMESTAMP '9999-12-31 00:00:00+00'";

const text = (value: string | null): BigQueryParam => ({ type: 'STRING', value });

/** A bound attribute as its column's type (prices are NUMERIC, bound as exact text). */
function attributeValue(column: string, param: string): string {
  return NUMERIC_COLUMNS.has(column) ? `CAST(@${param} AS NUMERIC)` : `@${param}`;
}

export class BigQueryDimensions {
  constructor(
    private readonly client: BigQueryClient,
    private readonly ds: Dataset,
  ) {}

  private t(table: string): string {
    return tableRef(this.ds, table);
  }

  private async versionsOf(spec: Scd2Spec): Promise<MemberVersion[]> {
    const attributes = spec.attributes.map((c) => `CAST(${c} AS STRING) AS ${c}`).join(', ');
    const rows = await this.client.query(
      `reading ${spec.table}`,
      `SELECT ${spec.key} AS key, ${spec.natural} AS natural_key, UNIX_MILLIS(valid_from) AS valid_from_ms, is_inferred,
         ${attributes}
       FROM ${this.t(spec.table)} WHERE ${spec.key} <> 0 ORDER BY natural_key, valid_from`,
    );
    return rows.map((r) => ({
      key: int64(r.key),
      natural: String(r.natural_key),
      validFromMs: Number(r.valid_from_ms),
      inferred: Boolean(r.is_inferred),
      attributes: Object.fromEntries(spec.attributes.map((c) => [c, (r[c] as string | null) ?? null])),
    }));
  }

  private async insertVersion(spec: Scd2Spec, version: MemberVersion): Promise<void> {
    const columns = spec.attributes;
    await this.client.query(
      `adding a ${spec.table} version`,
      `INSERT INTO ${this.t(spec.table)} (${spec.key}, ${spec.natural}, ${columns.join(', ')}, valid_from, valid_to, is_current, is_inferred)
       VALUES (@key, @natural, ${columns.map((c) => attributeValue(c, c)).join(', ')}, @valid_from, ${END_OF_TIME}, TRUE, @inferred)`,
      {
        key: { type: 'INT64', value: version.key.toString() },
        natural: text(version.natural),
        valid_from: { type: 'TIMESTAMP', value: new Date(version.validFromMs).toISOString() },
        inferred: { type: 'BOOL', value: version.inferred },
        ...Object.fromEntries(columns.map((c) => [c, text(version.attributes[c] ?? null)])),
      },
    );
  }

  /** Each version ends where the member's next one starts; the last one is current. */
  private async chainVersions(spec: Scd2Spec): Promise<void> {
    await this.client.query(
      `chaining ${spec.table} versions`,
      `UPDATE ${this.t(spec.table)} d SET valid_to = COALESCE(n.next_from, ${END_OF_TIME}), is_current = n.next_from IS NULL
       FROM (SELECT ${spec.key} AS k, LEAD(valid_from) OVER (PARTITION BY ${spec.natural} ORDER BY valid_from) AS next_from
             FROM ${this.t(spec.table)}) n
       WHERE d.${spec.key} = n.k`,
    );
  }

  /** Brings the SCD2 dimensions in line with the reference CSVs; returns how many versions changed. */
  async syncReference(reference: ReferenceData, nowMs: number): Promise<number> {
    let changes = 0;
    for (const kind of Object.keys(REFERENCE_DIMENSIONS) as ReferenceKind[]) {
      const spec = SCD2.find((s) => s.table === REFERENCE_DIMENSIONS[kind].table)!;
      const plan = planScd2(spec.table, await this.versionsOf(spec), reference[kind], nowMs);
      for (const change of plan) {
        if (change.kind === 'insert') {
          await this.insertVersion(spec, change.version);
          continue;
        }
        const sets = spec.attributes.map((c) => `${c} = ${attributeValue(c, c)}`).join(', ');
        await this.client.query(
          `completing a ${spec.table} member`,
          `UPDATE ${this.t(spec.table)} SET ${sets}, is_inferred = FALSE WHERE ${spec.key} = @key`,
          {
            key: { type: 'INT64', value: change.key.toString() },
            ...Object.fromEntries(spec.attributes.map((c) => [c, text(change.attributes[c] ?? null)])),
          },
        );
      }
      if (plan.length > 0) await this.chainVersions(spec);
      changes += plan.length;
    }
    return changes;
  }

  /**
   * A fact whose member is not in reference data gets an inferred member, and
   * a policy not seen before its row in dim_policy, before the facts are merged.
   */
  async insertInferredMembers(staging: { events: string; policies: string | null }): Promise<void> {
    const events = this.t(staging.events);
    for (const spec of SCD2) {
      const provider = spec.table === 'dim_model' ? ', MIN(provider) AS provider' : '';
      const missing = await this.client.query(
        `finding members missing from ${spec.table}`,
        `SELECT ${spec.natural} AS id${provider} FROM ${events} e
         WHERE ${spec.natural} IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ${this.t(spec.table)} d WHERE d.${spec.natural} = e.${spec.natural})
         GROUP BY ${spec.natural}`,
      );
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
    const policies = await this.client.query(
      'finding policies missing from dim_policy',
      `SELECT DISTINCT policy_name AS id FROM ${this.t(staging.policies)} p
       WHERE NOT EXISTS (SELECT 1 FROM ${this.t('dim_policy')} d WHERE d.policy_name = p.policy_name)`,
    );
    for (const row of policies) {
      const name = String(row.id);
      await this.client.query(
        'adding a policy',
        `INSERT INTO ${this.t('dim_policy')} (policy_key, policy_name) VALUES (@key, @name)`,
        {
          key: { type: 'INT64', value: versionKey('dim_policy', name, FIRST_VALID_FROM_MS).toString() },
          name: text(name),
        },
      );
    }
  }

  /** dim_date covers the whole loaded range without gaps (quiet days are days too), as in DuckDB. */
  async insertMissingDates(batchFromMs: number, batchToMs: number): Promise<void> {
    const [bounds] = await this.client.query(
      'reading the dim_date range',
      `SELECT UNIX_DATE(MIN(date)) AS lo, UNIX_DATE(MAX(date)) AS hi FROM ${this.t('dim_date')}`,
    );
    const lo = Math.min(startOfUtcDay(batchFromMs), bounds?.lo == null ? Infinity : Number(bounds.lo) * DAY_MS);
    const hi = Math.max(startOfUtcDay(batchToMs), bounds?.hi == null ? -Infinity : Number(bounds.hi) * DAY_MS);
    const present = new Set(
      (await this.client.query('reading dim_date', `SELECT date_key FROM ${this.t('dim_date')}`)).map((r) =>
        Number(r.date_key),
      ),
    );
    const missing: number[] = [];
    for (let day = lo; day <= hi; day += DAY_MS) if (!present.has(dateRow(day).date_key)) missing.push(day);
    // A first load over years adds thousands of days: 11 parameters each, under BigQuery's 10,000.
    for (let i = 0; i < missing.length; i += DAYS_PER_INSERT)
      await this.insertDays(missing.slice(i, i + DAYS_PER_INSERT));
  }

  private async insertDays(days: number[]): Promise<void> {
    if (days.length === 0) return;
    const params: Record<string, BigQueryParam> = {};
    const rows = days.map((day, i) => {
      const row = dateRow(day);
      for (const [column, value] of Object.entries(row)) {
        params[`${column}_${i}`] =
          typeof value === 'boolean'
            ? { type: 'BOOL', value }
            : typeof value === 'number'
              ? { type: 'INT64', value }
              : column === 'date'
                ? { type: 'DATE', value }
                : text(value);
      }
      return `(${Object.keys(row)
        .map((column) => `@${column}_${i}`)
        .join(', ')})`;
    });
    await this.client.query(
      'adding dim_date days',
      `INSERT INTO ${this.t('dim_date')} (${Object.keys(dateRow(days[0]!)).join(', ')}) VALUES ${rows.join(', ')}`,
      params,
    );
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
