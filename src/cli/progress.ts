import { stderrLines, type TerminalLines } from '../log/terminal.js';
import type { Progress } from '../pipeline/session.js';

/**
 * One redrawn status line on a terminal (events/s, done/total, ETA), below
 * the log lines (log/terminal.ts keeps them apart); nothing when stderr is
 * not a TTY, where the log lines already say it all.
 */
export function terminalProgress(lines: TerminalLines | undefined = stderrLines): ((p: Progress) => void) | undefined {
  if (!lines) return undefined;
  const started = performance.now();
  let events = 0;
  return (p) => {
    events += p.events;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(events / seconds) : 0;
    const eta = p.done > 0 ? Math.round((seconds / p.done) * (p.total - p.done)) : 0;
    lines.progress(
      `${p.done}/${p.total} ${p.label} · ${events.toLocaleString('en-US')} events · ${rate.toLocaleString('en-US')}/s · ETA ${eta}s`,
    );
    if (p.done === p.total) lines.end();
  };
}
