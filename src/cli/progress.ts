import type { Progress } from '../pipeline/session.js';

/**
 * One self-rewriting status line on a terminal (events/s, done/total, ETA);
 * nothing when stderr is not a TTY, where the log lines already say it all.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ((p: Progress) => void) | undefined {
  if (!stream.isTTY) return undefined;
  const started = performance.now();
  let events = 0;
  return (p) => {
    events += p.events;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(events / seconds) : 0;
    const eta = p.done > 0 ? Math.round((seconds / p.done) * (p.total - p.done)) : 0;
    const line = `${p.done}/${p.total} ${p.label} · ${events.toLocaleString('en-US')} events · ${rate.toLocaleString('en-US')}/s · ETA ${eta}s`;
    stream.write(`\r\x1b[2K${line}${p.done === p.total ? '\n' : ''}`);
  };
}
