import { describe, expect, it } from 'vitest';
import { terminalProgress } from '../../src/cli/progress.js';

describe('progress on a terminal', () => {
  it('rewrites one line with done/total, events, rate and ETA; ends it when done', () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const progress = terminalProgress(tty)!;
    progress({ done: 1, total: 2, label: 'windows', events: 1500 });
    progress({ done: 2, total: 2, label: 'windows', events: 500 });
    expect(written[0]!.startsWith('\r\u001b[2K')).toBe(true); // back to the line start, clear it
    expect(written[0]).toMatch(/1\/2 windows · 1,500 events · [\d,]+\/s · ETA \d+s$/);
    expect(written[1]).toMatch(/2\/2 windows · 2,000 events .*\n$/);
  });

  it('says nothing when not on a terminal (log lines already do)', () => {
    expect(terminalProgress({ isTTY: false } as unknown as NodeJS.WriteStream)).toBeUndefined();
  });
});
