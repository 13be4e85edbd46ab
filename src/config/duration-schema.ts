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
