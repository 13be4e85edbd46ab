import type { Dialect } from '../dialect.js';

/**
 * The hourly aggregates of fact_ai_event (issue 19), kept exact in the same
 * transaction as the facts: a load MERGEs its package's hourly rows; the
 * commands that change history (replay --force-update, forget, retention)
 * compute the days they touched again from the facts. The anomaly and
 * freshness checks read them instead of scanning the facts. Gateways and
 * models are kept by natural key, so rebuild-dims (which only moves facts
 * between versions of one member) leaves them as they are.
 */
interface Measure {
  column: string;
  /** Over the source row `s` (see sourceSql). */
  expression: string;
  /** How a package's value joins the stored one. */
  merge: 'add' | 'least' | 'greatest';
}

interface Aggregate {
  table: string;
  keys: string[];
  measures: Measure[];
  /** Which source rows it holds. */
  where?: string;
}

/**
 * Latency buckets: ⌊ln(1 + ms) × 20⌋, each ~5 % wide, so a p99 read from them is within
 * ~2.5 % of the exact one; the same arithmetic on every engine.
 */
export const LATENCY_BUCKETS_PER_E = 20;

/** The latency a bucket stands for: its middle, in log space. */
export const bucketLatency = (bucket: number) => Math.exp((bucket + 0.5) / LATENCY_BUCKETS_PER_E) - 1;

const add = (column: string, expression: string): Measure => ({ column, expression, merge: 'add' });

function aggregates(d: Dialect): Aggregate[] {
  return [
    {
      table: 'agg_event_hourly',
      keys: ['hour', 'date_key', 'gateway_id', 'model', 'decision'],
      measures: [
        add('events', 'COUNT(*)'),
        add('blocked', d.countIf('s.was_blocked')),
        add('cost_usd', 'SUM(s.cost_usd)'),
        // For the spread of one event's cost within an hour (the cost check's noise).
        add(
          'cost_sq',
          `SUM(CAST(s.cost_usd AS ${d.columnType('float')}) * CAST(s.cost_usd AS ${d.columnType('float')}))`,
        ),
        add('latency_sum', 'SUM(s.latency_ms)'),
        add('latency_count', 'COUNT(s.latency_ms)'),
        { column: 'first_event_ts', expression: 'MIN(s.event_ts)', merge: 'least' },
        { column: 'last_event_ts', expression: 'MAX(s.event_ts)', merge: 'greatest' },
      ],
    },
    {
      table: 'agg_latency_hourly',
      keys: ['hour', 'date_key', 'gateway_id', 'latency_bucket'],
      measures: [add('events', 'COUNT(*)')],
      where: 's.latency_ms IS NOT NULL',
    },
  ];
}

/**
 * Each row of `facts` (fact_ai_event's columns, as `f`) that `where` keeps (all without one), with its hour, its
 * members' natural keys and its latency bucket.
 */
function sourceSql(d: Dialect, facts: string, where?: string): string {
  // A key with no dimension row (an integrity failure the checks report) keeps its facts under ''.
  return `SELECT ${d.hour('f.event_ts')} AS hour, f.date_key, COALESCE(g.gateway_id, '') AS gateway_id,
  COALESCE(m.model, '') AS model, f.decision, f.was_blocked, f.cost_usd, f.latency_ms, f.event_ts,
  CAST(FLOOR(LN(1 + GREATEST(f.latency_ms, 0)) * ${LATENCY_BUCKETS_PER_E}) AS ${d.columnType('int')}) AS latency_bucket
FROM ${facts} f
LEFT JOIN ${d.table('dim_gateway')} g ON g.gateway_key = f.gateway_key
LEFT JOIN ${d.table('dim_model')} m ON m.model_key = f.model_key${where ? `\nWHERE ${where}` : ''}`;
}

function groupedSql(d: Dialect, agg: Aggregate, facts: string, where?: string): string {
  const columns = [...agg.keys.map((k) => `s.${k}`), ...agg.measures.map((m) => `${m.expression} AS ${m.column}`)];
  return `SELECT ${columns.join(', ')}
FROM (${sourceSql(d, facts, where)}) s${agg.where ? `\nWHERE ${agg.where}` : ''}
GROUP BY ${agg.keys.map((k) => `s.${k}`).join(', ')}`;
}

const merged = (m: Measure) =>
  m.merge === 'add'
    ? `t.${m.column} + s.${m.column}`
    : `${m.merge === 'least' ? 'LEAST' : 'GREATEST'}(t.${m.column}, s.${m.column})`;

/**
 * Adds the hourly rows of `inserted` to each aggregate: a load's own package, as a query with
 * fact_ai_event's columns (the rows its MERGE inserts: read from the batch, not the fact table).
 */
export function mergeAggregatesSql(d: Dialect, inserted: string): string[] {
  return aggregates(d).map((agg) => {
    const columns = [...agg.keys, ...agg.measures.map((m) => m.column)];
    return `MERGE INTO ${d.table(agg.table)} t
USING (${groupedSql(d, agg, `(${inserted})`)}) s
ON ${agg.keys.map((k) => `t.${k} = s.${k}`).join(' AND ')}
WHEN MATCHED THEN UPDATE SET ${agg.measures.map((m) => `${m.column} = ${merged(m)}`).join(', ')}
WHEN NOT MATCHED THEN INSERT (${columns.join(', ')}) VALUES (${columns.map((c) => `s.${c}`).join(', ')})`;
  });
}

/** Computes each aggregate's rows of the days `dateKeys` selects (a query of `date_key`) again from the facts. */
export function recomputeAggregatesSql(d: Dialect, dateKeys: string): string[] {
  return aggregates(d).flatMap((agg) => [
    `DELETE FROM ${d.table(agg.table)} WHERE date_key IN (${dateKeys})`,
    `INSERT INTO ${d.table(agg.table)} (${[...agg.keys, ...agg.measures.map((m) => m.column)].join(', ')})
${groupedSql(d, agg, d.table('fact_ai_event'), `f.date_key IN (${dateKeys})`)}`,
  ]);
}

/** Drops each aggregate's hours before `cutoffParam` (a UTC midnight: retention removes whole days). */
export function dropAggregatesBeforeSql(d: Dialect, cutoffParam: string): string[] {
  return aggregates(d).map((agg) => `DELETE FROM ${d.table(agg.table)} WHERE hour < ${d.param(cutoffParam)}`);
}

/** `count` date keys bound as `day_0`…, as a query of `date_key` (for recomputeAggregatesSql). */
export function boundDateKeysSql(d: Dialect, count: number): string {
  return Array.from(
    { length: count },
    (_, i) => `SELECT CAST(${d.param(`day_${i}`)} AS ${d.columnType('int')}) AS date_key`,
  ).join(' UNION ALL ');
}
