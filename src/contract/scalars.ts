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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of the `count` ASCII digits at `at`, or NaN when one is not a digit. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The form every gateway sends, `2026-01-01T00:00:00.013Z`, read character by character without
 * the regex and the Date of parseInstant (a tenth of the extract CPU); undefined for anything
 * else (offsets, a space or comma, years before 0100, invalid values), which parseInstant judges.
 */
function commonInstantMicros(text: string): number | undefined {
  const end = text.length - 1;
  if (end < 19 || end > 29 || text[end] !== 'Z' || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T') return;
  if (text[13] !== ':' || text[16] !== ':' || (end > 19 && (end === 20 || text[19] !== '.'))) return;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const leapDay = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  // NaN fails every comparison, so a non-digit anywhere falls through to parseInstant.
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1]! + leapDay)) return;
  if (!(hour <= 23 && minute <= 59 && second <= 59)) return;
  // Microseconds: the first six digits, padded; further digits are cut, as parseInstant cuts them.
  const fractionDigits = Math.max(end - 20, 0);
  const kept = Math.min(fractionDigits, 6);
  const micros = digits(text, 20, kept) * 10 ** (6 - kept);
  if (Number.isNaN(micros) || Number.isNaN(digits(text, 20 + kept, fractionDigits - kept))) return;
  return Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micros;
}

export function parseInstantMicros(text: string): number | undefined {
  const common = commonInstantMicros(text);
  if (common !== undefined) return common;
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
