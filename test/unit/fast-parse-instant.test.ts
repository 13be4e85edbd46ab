import { describe, expect, it } from 'vitest';
import { parseInstant, parseInstantMicros } from '../../src/contract/scalars.js';

/** What parseInstant, the authority, makes of a text. */
function authority(text: string): number | undefined {
  const parsed = parseInstant(text);
  return 'micros' in parsed ? parsed.micros : undefined;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Instants around every edge of the common form: years, leap days, month ends, 24:00, 60 s, fractions, zones. */
function instants(): string[] {
  const out: string[] = [];
  const years = [0, 1, 99, 100, 1582, 1600, 1800, 1900, 1970, 1999, 2000, 2024, 2026, 2100, 2200, 2400, 9999];
  const days = [0, 1, 28, 29, 30, 31, 32];
  const times = ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '9:00:00', '0a:00:00'];
  const fractions = ['', '.', '.1', '.013', '.12345', '.123456', '.1234567', '.999999999', '.1234567890', '.12a', ',5'];
  const zones = ['Z', 'z', '', '+00:00', '-01:30', '+0200'];
  for (const year of years)
    for (let month = 0; month <= 13; month++)
      for (const day of days) out.push(`${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T12:34:56.789Z`);
  for (const time of times)
    for (const fraction of fractions)
      for (const zone of zones)
        for (const separator of ['T', ' ', 't']) out.push(`2026-02-28${separator}${time}${fraction}${zone}`);
  // Every character of a common instant replaced by characters that look alike or fit elsewhere.
  const common = '2026-01-01T00:00:00.013Z';
  for (let i = 0; i < common.length; i++)
    for (const c of ['0', '9', '-', ':', 'T', 'Z', '.', ' ', 'x', '\u0663', '/'])
      out.push(`${common.slice(0, i)}${c}${common.slice(i + 1)}`);
  out.push(common.slice(0, -1), `${common}Z`, `${common} `, ` ${common}`, '', 'Z', '2026-01-01T00:00:00.Z');
  return out;
}

describe('parseInstantMicros (the common form read without the regex)', () => {
  it('gives exactly what parseInstant gives, for every edge of the common form and beside it', () => {
    const cases = instants();
    expect(cases.length).toBeGreaterThan(2000);
    expect(cases.map((text) => [text, parseInstantMicros(text)])).toEqual(cases.map((text) => [text, authority(text)]));
    // Both outcomes were checked, many times each.
    expect(cases.filter((text) => authority(text) === undefined).length).toBeGreaterThan(500);
    expect(cases.filter((text) => authority(text) !== undefined).length).toBeGreaterThan(500);
  });

  it('agrees on 20,000 seeded random instants from year 0100 to 9999, with fractions of every length', () => {
    let seed = 19;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const cases: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ms = Date.UTC(100, 0, 1) + (next() / 2 ** 31) * (Date.UTC(9999, 11, 31) - Date.UTC(100, 0, 1));
      const digits = String(next())
        .padStart(10, '0')
        .slice(0, next() % 10);
      const text = `${new Date(ms).toISOString().slice(0, 19)}${digits ? `.${digits}` : ''}Z`;
      cases.push(text);
    }
    expect(cases.map((text) => [text, parseInstantMicros(text)])).toEqual(cases.map((text) => [text, authority(text)]));
  });
});
