import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { checksSchema } from './checks-schema.js';
import { scheduleSchema } from './schedule-schema.js';
import type { PrivacyRules } from '../contract/privacy.js';
import { ACCEPTED_DECISIONS, DECISIONS } from '../contract/event.js';
import { DEFAULT_PLAUSIBLE_AHEAD_MS, DEFAULT_PLAUSIBLE_FROM_MS, type PlausibleRange } from '../contract/ranges.js';
import { parseInstantMicros } from '../contract/scalars.js';
import { ConfigError } from '../util/errors.js';
import { byteSize, duration } from './duration-schema.js';
import { parseDuration } from './duration.js';
import { duckdbWarehouse } from '../warehouse/duckdb/duckdb-config.js';
import { bigqueryWarehouse } from '../warehouse/bigquery/bigquery-config.js';
import { snowflakeWarehouse } from '../warehouse/snowflake/snowflake-config.js';

const isoInstant = z.iso.datetime({ offset: true }).transform((text) => new Date(text));

const share = z.number().min(0).max(1).default(0);
/** See `staging.package_bytes`. */
const PACKAGE_BYTES = 24 * 1024 ** 2;

/** The hostile source, for tests and demos: every fault is seeded and off by default. */
const simulatorFaults = z.strictObject({
  /** Share of events that become visible up to `late_max` after their timestamp. */
  late_share: share,
  late_max: duration.default(3 * 3_600_000),
  /** Share of events delivered twice (on another page, often in another run). */
  duplicate_share: share,
  /** Serve each minute's events in a shuffled order instead of by timestamp. */
  unordered: z.boolean().default(false),
  /** Per-request probabilities of a 429 (with Retry-After), a 500, a truncated body, an expired cursor (410). */
  http_429_rate: share,
  retry_after_seconds: z.int().min(0).max(60).default(0),
  http_500_rate: share,
  truncated_body_rate: share,
  expired_cursor_rate: share,
  /** Delay before each page is answered. */
  slow_page_ms: z.int().min(0).max(60_000).default(0),
  /** Share of events the source counts (count=true) but never serves: a lossy source. */
  lost_share: share,
});

/** Shapes of traffic and injected incidents, for data-quality demos and tests. */
const simulatorTraffic = z.strictObject({
  /** 24 multipliers of the rate, one per UTC hour of day (a daily cycle). */
  hourly_profile: z.array(z.number().min(0).max(100)).length(24).optional(),
  incidents: z
    .array(
      z.strictObject({
        /** The UTC hour the incident fills. */
        at: z.iso.datetime({ offset: true }),
        kind: z.enum(['block_spike', 'volume_drop']),
        /** block_spike: share of the hour's requests blocked; volume_drop: share of requests left. */
        share: z.number().min(0).max(1),
      }),
    )
    .default([]),
});

const simulatorSettings = z.strictObject({
  seed: z.int().default(42),
  rate_per_minute: z.number().positive().max(100_000).default(5),
  bad_record_rate: share,
  unknown_member_rate: share,
  faults: simulatorFaults.default(simulatorFaults.parse({})),
  traffic: simulatorTraffic.default(simulatorTraffic.parse({})),
});

const exportSettings = z.strictObject({
  format: z.enum(['jsonl', 'json', 'csv']).default('jsonl'),
  compression: z.enum(['none', 'gzip']).default('gzip'),
  poll_interval: duration.default(2_000),
  /** How long one export may take to be ready and downloaded. */
  timeout: duration.default(30 * 60_000),
});

const source = z
  .strictObject({
    kind: z.enum(['simulator', 'events_api', 'export_api', 'files']),
    url: z.url().optional(),
    token: z.string().min(1).optional(),
    files: z.string().min(1).optional(),
    /** Skip files modified more recently than this (an inbox may still be writing them); 0 = off. */
    min_file_age: duration.default(0),
    page_size: z.int().min(1).max(100_000).default(1000),
    /** A record larger than this is rejected (its first bytes kept), never read whole into memory from a file. */
    max_record_bytes: byteSize.default(1024 ** 2),
    timeout: duration.default(30_000),
    max_retries: z.int().min(0).max(20).default(5),
    simulator: simulatorSettings.default(simulatorSettings.parse({})),
    export: exportSettings.default(exportSettings.parse({})),
  })
  .superRefine((value, ctx) => {
    if (value.kind === 'events_api' || value.kind === 'export_api') {
      const message = `required when source.kind is ${value.kind}`;
      if (!value.url) ctx.addIssue({ code: 'custom', path: ['url'], message });
      if (!value.token) ctx.addIssue({ code: 'custom', path: ['token'], message });
    }
    if (value.kind === 'files' && !value.files) {
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'required when source.kind is files' });
    }
  });

const window = z
  .strictObject({
    lookback: duration.default(3_600_000),
    settle_delay: duration.default(120_000),
    max_window: duration.default(6 * 3_600_000),
    initial_start: isoInstant.optional(),
    max_windows: z.int().min(1).default(48),
  })
  .superRefine((value, ctx) => {
    // Each window re-reads `lookback`; a window no longer than that never advances.
    if (value.max_window <= value.lookback) {
      ctx.addIssue({ code: 'custom', path: ['max_window'], message: 'must be longer than window.lookback' });
    }
  });

function defaultExtractWorkers(): number {
  return availableParallelism() >= 4 ? 2 : 0;
}

const warehouse = z.discriminatedUnion('kind', [duckdbWarehouse, bigqueryWarehouse, snowflakeWarehouse]);

const privacy = z
  .strictObject({
    /** Replace user ids by a keyed HMAC-SHA256 everywhere they land (facts' dimension, lake, rejects). */
    pseudonymize_users: z.boolean().default(false),
    /** The HMAC key, from the environment (`${AETL_PSEUDONYM_KEY}`); losing it means new pseudonyms. */
    key: z.string().min(16, 'at least 16 characters').optional(),
    /** Metadata keys removed before anything is written (e.g. prompt text), also as unknown top-level fields. */
    drop_metadata_keys: z.array(z.string().min(1)).default([]),
  })
  .superRefine((value, ctx) => {
    if (value.pseudonymize_users && !value.key) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'required when pseudonymize_users is true' });
    }
  });

const EARLIEST_BOUND_MS = Date.UTC(1900, 0, 1); // every dimension's first version starts here
const LATEST_BOUND_MS = Date.UTC(10_000, 0, 1); // BigQuery's TIMESTAMP ends with year 9999
const MAX_OFFSET_MS = 3650 * 86_400_000;
const FROM_NOW = /^now\s*([+-])\s*(\S+)$/;

/** A bound of `contract.plausible_range`: a date or ISO instant, or `now+1d` / `now-30d` (the run's clock). */
const plausibleBound = z.string().transform((text, ctx): { atMs: number } | { fromNowMs: number } => {
  const relative = FROM_NOW.exec(text.trim());
  if (relative) {
    const ms = parseDuration(relative[2]!);
    if (ms === undefined || ms > MAX_OFFSET_MS) {
      ctx.addIssue({ code: 'custom', message: `expected now+<duration> or now-<duration> up to 3650d, got "${text}"` });
      return z.NEVER;
    }
    return { fromNowMs: relative[1] === '-' ? -ms : ms };
  }
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text.trim());
  const us = parseInstantMicros(day ? `${text.trim()}T00:00:00Z` : text.trim());
  if (us === undefined || us / 1000 < EARLIEST_BOUND_MS || us / 1000 >= LATEST_BOUND_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a date or ISO instant from 1900-01-01 to 9999-12-31, or now+<duration>, got "${text}"`,
    });
    return z.NEVER;
  }
  return { atMs: us / 1000 };
});

const plausibleRangeSchema = z
  .strictObject({
    /** The earliest event time accepted (inclusive). */
    from: plausibleBound.default({ atMs: DEFAULT_PLAUSIBLE_FROM_MS }),
    /** The end of accepted event times (exclusive): `now+1d` tolerates gateway clocks running ahead. */
    to: plausibleBound.default({ fromNowMs: DEFAULT_PLAUSIBLE_AHEAD_MS }),
  })
  .superRefine((value, ctx) => {
    if ('atMs' in value.from && 'atMs' in value.to && value.from.atMs >= value.to.atMs) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after contract.plausible_range.from' });
    }
  });

export const configSchema = z.strictObject({
  pipeline: z
    .strictObject({ name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _') })
    .default({
      name: 'default',
    }),
  source,
  window: window.default(window.parse({})),
  warehouse: warehouse.default(duckdbWarehouse.parse({ kind: 'duckdb' })),
  lake: z
    .strictObject({
      path: z.string().min(1).default('data/lake'),
      /** A partition holding more files than this after a publish is compacted into one (decision 2). */
      compact_after_files: z.number().int().min(1).default(24),
    })
    .default({ path: 'data/lake', compact_after_files: 24 }),
  /**
   * The run lock's lease on BigQuery and Snowflake (a row in the warehouse, renewed every sixth of
   * it): a holder silent this long is taken over. DuckDB's lock file keeps its own 60 s.
   */
  lock: z
    .strictObject({
      lease: duration.refine((ms) => ms >= 1000, 'at least 1s').default(60_000),
    })
    .default({ lease: 60_000 }),
  staging: z
    .strictObject({
      path: z.string().min(1).default('data/staging'),
      /**
       * Extract threads (parse, validate, hash); 0 = on the main thread. Measured on 2 cores:
       * ~10 % faster for ~150-250 MB more peak memory, so they are on by default from 4 cores.
       */
      workers: z
        .int()
        .min(0)
        .max(16)
        .default(() => defaultExtractWorkers()),
      /**
       * Records per load package at most: a larger file is loaded in several, so memory does not grow with it.
       * A package's rows are loaded at once: 250k needed more than a 160MB pool (BENCHMARKS.md "Peak RSS of a run").
       */
      package_records: z.int().min(1000).default(100_000),
      /**
       * Record text per load package at most (characters): wide records (large metadata) close a package
       * sooner. 2,000 records of 60 KB metadata in one package ran a 160MB pool out of memory in the lake
       * export's sort; 100k simulated events stage ~19 MB, so ordinary packages are not cut by it.
       */
      package_bytes: byteSize.default(PACKAGE_BYTES),
    })
    .default(() => ({
      path: 'data/staging',
      workers: defaultExtractWorkers(),
      package_records: 100_000,
      package_bytes: PACKAGE_BYTES,
    })),
  reference: z
    .strictObject({ users: z.string().optional(), gateways: z.string().optional(), models: z.string().optional() })
    .default({}),
  checks: checksSchema.default(checksSchema.parse({})),
  schedule: scheduleSchema.default(scheduleSchema.parse({})),
  privacy: privacy.default({ pseudonymize_users: false, drop_metadata_keys: [] }),
  metrics: z
    .strictObject({
      /** A Prometheus textfile (`*.prom`, for node_exporter's textfile collector) rewritten after every run. */
      textfile: z.string().min(1).optional(),
    })
    .default({}),
  contract: z
    .strictObject({
      /**
       * Decision values the vendor added after this release, each accepted as a canonical one
       * (`warned: allow`); records rejected for one before can then be loaded by `aetl rejects replay`.
       */
      decision_aliases: z
        .record(z.string().min(1).max(64), z.enum(DECISIONS))
        .superRefine((aliases, ctx) => {
          // An accepted value as a key would silently re-map real decisions (`blocked: allow`).
          for (const key of Object.keys(aliases).filter((k) => ACCEPTED_DECISIONS.includes(k))) {
            ctx.addIssue({ code: 'custom', path: [key], message: 'is already an accepted decision value' });
          }
        })
        .default({}),
      /** Event times outside [from, to) are rejects (DESIGN.md decision 21): no year 0001 or 9999 is stored. */
      plausible_range: plausibleRangeSchema.prefault({}),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** The privacy rules validation applies, from the config. */
export function privacyRules(config: Config): PrivacyRules {
  const p = config.privacy;
  return { pseudonymKey: p.pseudonymize_users ? p.key! : null, dropMetadataKeys: p.drop_metadata_keys };
}
/** `contract.plausible_range` at the run's clock; an empty range (a fixed `from` after `now+…`) is a config error. */
export function plausibleRange(config: Config, nowMs: number): PlausibleRange {
  const at = (bound: { atMs: number } | { fromNowMs: number }) =>
    'atMs' in bound ? bound.atMs : nowMs + bound.fromNowMs;
  const range = { fromMs: at(config.contract.plausible_range.from), toMs: at(config.contract.plausible_range.to) };
  if (range.fromMs >= range.toMs) {
    const iso = (ms: number) => new Date(ms).toISOString();
    throw new ConfigError(
      `contract.plausible_range: from (${iso(range.fromMs)}) is not before to (${iso(range.toMs)}) at this run's clock`,
    );
  }
  return range;
}
export type SimulatorSettings = z.infer<typeof simulatorSettings>;
export type SimulatorFaults = z.infer<typeof simulatorFaults>;
export type ExportSettings = z.infer<typeof exportSettings>;

/** Simulator settings with defaults filled in (for tests, benchmarks and the CLI). */
export function simulatorSettingsFrom(partial: z.input<typeof simulatorSettings>): SimulatorSettings {
  return simulatorSettings.parse(partial);
}
