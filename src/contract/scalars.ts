import { MAX_COST_MICROS } from './ranges.js';

/**
 * Exact parsing of the two scalars whose float handling would lose data:
 * ISO-8601 instants (kept to the microsecond) and decimal costs (kept to the
 * millionth of a dollar, as DECIMAL(18,6)).
 */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/;

/** Epoch microseconds, or why the text is not a possible ISO instant. No offset means UTC. */
export function parseInstant(text: string): { micros: number } | { problem: string } {
  const m = ISO_INSTANT.exec(text);
  if (!m) return { problem: `not an ISO-8601 timestamp: "${text.slice(0, 40)}"` };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999 (0001 would become 1901).
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // A rolled-over day (2026-02-30 becomes March 2) is invalid, not "close enough".
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) {
    return { problem: `not a calendar date and time: "${text.slice(0, 40)}"` };
  }
  const fraction = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = Number(digits.slice(3, 5));
    if (hours > 23 || minutes > 59) return { problem: `impossible UTC offset "${zone}" (hours 0-23, minutes 0-59)` };
    offsetMinutes = (digits.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  const ms = date.getTime() + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000;
  return { micros: ms * 1000 + Number(fraction) };
}

export function parseInstantMicros(text: string): number | undefined {
  const parsed = parseInstant(text);
  return 'micros' in parsed ? parsed.micros : undefined;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Millionths from a non-negative decimal given as text or a JSON number.
 * More than 6 fractional digits are rounded half-up, as a DECIMAL(18,6) cast does.
 */
export function parseCostMicros(value: string | number): bigint | undefined {
  let text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  if (text === undefined) return undefined;
  if (text.startsWith('+')) text = text.slice(1);
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const fraction = m[2] ?? '';
  let micros = BigInt(m[1]!) * 1_000_000n + BigInt(fraction.slice(0, 6).padEnd(6, '0'));
  if (fraction.length > 6 && fraction.charCodeAt(6) >= 53 /* '5' */) micros += 1n;
  return micros > MAX_COST_MICROS ? undefined : micros;
}

/** JSON numbers like 1e-7 must become plain decimal text before exact parsing. */
function numberToPlainString(value: number): string | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  const text = String(value);
  return /e/i.test(text) ? value.toFixed(12) : text;
}

export function formatCost(micros: bigint): string {
  const whole = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${whole}.${fraction}`;
}
