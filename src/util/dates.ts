/** UTC calendar helpers: every date in the product is a UTC date. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** `yyyymmdd` of the UTC day an instant (in microseconds) falls on. */
export function dateKeyOf(eventTsUs: number): number {
  const d = new Date(Math.floor(eventTsUs / 1000));
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** `YYYY-MM-DD` of a `yyyymmdd` date key (a number, or a client's bigint or text). */
export function isoDayOfKey(dateKey: unknown): string {
  const key = String(Number(dateKey));
  return `${key.slice(0, 4)}-${key.slice(4, 6)}-${key.slice(6, 8)}`;
}

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** An instant as ISO 8601 UTC, or null (no checkpoint yet, a column without a value). */
export function isoInstant(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * A CLI instant: a date (`2026-04-01`) means UTC midnight; full ISO
 * timestamps are accepted with any offset, none meaning UTC (DESIGN.md decisions 7 and 18).
 */
export function parseCliInstant(text: string): number | undefined {
  const value = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  // Without an offset it is UTC (decision 7): Date.parse would read it in the machine's zone.
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}
