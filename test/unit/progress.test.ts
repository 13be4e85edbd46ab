import { describe, expect, it } from 'vitest';
import { terminalProgress } from '../../src/cli/progress.js';
import { TerminalLines } from '../../src/log/terminal.js';
import { screenLines } from '../helpers/terminal-screen.js';

describe('progress on a terminal', () => {
  it('one progress line redrawn below the log lines, never sharing a line with one; ended when done', () => {
    let output = '';
    const lines = new TerminalLines({ write: (text: string) => (output += text) } as unknown as NodeJS.WritableStream);
    const progress = terminalProgress(lines)!;
    const log = lines.logStream();
    progress({ done: 1, total: 2, label: 'windows', events: 1500 });
    log.write('INFO: package loaded (seq 1)\n');
    log.write('INFO: package loaded (seq 2)\n');
    progress({ done: 2, total: 2, label: 'windows', events: 500 });
    log.write('INFO: run finished\n');
    const screen = screenLines(output);
    expect(screen.slice(0, 2)).toEqual(['INFO: package loaded (seq 1)', 'INFO: package loaded (seq 2)']);
    expect(screen[2]).toMatch(/^2\/2 windows · 2,000 events · [\d,]+\/s · ETA \d+s$/);
    expect(screen[3]).toBe('INFO: run finished');
    expect(screen).toHaveLength(4);
  });

  it('says nothing when stderr is not a terminal (log lines already do)', () => {
    expect(terminalProgress(undefined)).toBeUndefined();
  });
});
