import { z } from 'zod';
import { duration } from './duration-schema.js';

/**
 * `checks:` in the config. Every check has a severity: a finding is a
 * `fail` (exit 3) at `error` and a `warn` (exit 0) at `warn`. Defaults follow
 * the source documents' targets and DESIGN.md decision 15.
 */
const severity = z.enum(['warn', 'error']);

const floors = (minAbs: number, minRel: number) =>
  z
    .strictObject({
      /** The smallest absolute deviation that counts (events, rate points, dollars, ms). */
      min_abs: z.number().min(0).default(minAbs),
      /** The smallest deviation relative to the expected value. */
      min_rel: z.number().min(0).default(minRel),
    })
    .default({ min_abs: minAbs, min_rel: minRel });

const completeness = z.strictObject({
  severity: severity.default('error'),
  min_ratio: z.number().min(0).max(1).default(0.999),
  /** A failure keeps the checkpoint where it is (DESIGN.md decision 1). */
  blocking: z.boolean().default(true),
});

const duplicates = z.strictObject({
  severity: severity.default('error'),
  blocking: z.boolean().default(true),
  /** Source-side duplicate deliveries above this share of a run's records warn. */
  max_delivery_rate: z.number().min(0).max(1).default(0.001),
});

const freshness = z.strictObject({
  enabled: z.boolean().default(true),
  severity: severity.default('warn'),
  /** How often the incremental job runs; the lag it implies is this plus settle_delay. */
  schedule_interval: duration.default(15 * 60_000),
  /** Lag beyond what the schedule implies that is tolerated. */
  tolerance: duration.default(5 * 60_000),
});

const anomalies = z.strictObject({
  enabled: z.boolean().default(true),
  severity: severity.default('error'),
  /** One-sided z-score (the vendor's 2σ is a setting, not the default). */
  z: z.number().positive().default(3),
  /** `auto`: hour-of-week once history allows min_training weeks, else hour-of-day. */
  seasonality: z.enum(['auto', 'hour_of_day', 'hour_of_week', 'none']).default('auto'),
  /** Training window for hour-of-day (scaled ×7 for hour-of-week). */
  training_days: z.int().min(1).max(365).default(14),
  /** Fewer training buckets per seasonal slot than this: `insufficient_history`. */
  min_training: z.int().min(2).default(7),
  per_gateway: z.boolean().default(true),
  /** Rate metrics (block rate, p99 latency) are not judged on buckets with fewer events. */
  min_events: z.int().min(1).default(50),
  volume: floors(10, 0.2),
  block_rate: floors(0.1, 0.5),
  cost: floors(1, 0.5),
  latency_p99: floors(100, 0.25),
});

const schemaDrift = z.strictObject({
  enabled: z.boolean().default(true),
  /** `warn` by default: unknown fields are kept (in metadata._extra_fields), nothing is lost. */
  severity: severity.default('warn'),
});

const alert = z.strictObject({
  /** A Slack-compatible incoming webhook (JSON body with `text`). */
  url: z.url(),
  /** HMAC-SHA256 key for the X-Signature header; from ${ENV}, never written anywhere. */
  secret: z.string().min(1).optional(),
  on: z.array(z.enum(['fail', 'warn', 'error'])).default(['fail', 'error']),
  timeout: duration.default(10_000),
  max_retries: z.int().min(0).max(10).default(3),
});

const defaults = <T extends z.ZodType>(schema: T) => schema.default(schema.parse({}) as never);

export const checksSchema = z.strictObject({
  max_reject_rate: z.number().min(0).max(1).default(0.01),
  completeness: defaults(completeness),
  duplicates: defaults(duplicates),
  integrity: defaults(z.strictObject({ severity: severity.default('error') })),
  freshness: defaults(freshness),
  anomalies: defaults(anomalies),
  schema_drift: defaults(schemaDrift),
  alert: alert.optional(),
});

export type ChecksConfig = z.infer<typeof checksSchema>;
export type AnomalyConfig = ChecksConfig['anomalies'];
export type MetricFloors = AnomalyConfig['volume'];
export type AlertConfig = z.infer<typeof alert>;
