import { z } from 'zod';
import { parseDuration } from './duration.js';

/** A config duration (`90s`, `15m`, `2h`, `1d`) parsed to milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 90s, 15m, 2h or 1d, got "${text}"` });
    return z.NEVER;
  }
  return ms;
});

const SIZE = /^(\d+)\s?(B|KB|MB|GB)$/;
const UNIT_BYTES = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as const;

/** A config size (`512B`, `64KB`, `1MB`; binary units) parsed to bytes. */
export const byteSize = z.string().transform((text, ctx) => {
  const match = SIZE.exec(text.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 64KB or 1MB, got "${text}"` });
    return z.NEVER;
  }
  return Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES];
});
