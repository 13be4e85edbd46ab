import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { screenLines } from '../helpers/terminal-screen.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/**
 * Issue 20 item 6: on a terminal, pretty log lines scroll above and the one
 * progress line is redrawn below them; no screen line mixes the two. Run in a
 * real pseudo-terminal (`script` from util-linux), as a user's shell would.
 */
describe('aetl run on a terminal', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('log lines and the progress line never share a screen line; the last progress line stays', () => {
    const config = ws.writeConfig();
    const command = `'${process.execPath}' '${join(REPO, 'dist/cli/main.js')}' run --config '${config}'`;
    const result = spawnSync('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, AETL_NOW: '2026-06-10T06:00:00Z', TERM: 'xterm' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stdout).toBe(0);
    const screen = screenLines(result.stdout);
    const progress = screen.filter((line) => / windows · [\d,]+ events · /.test(line));
    // One progress line is left on screen: the last one, when every window was done.
    expect(progress).toHaveLength(1);
    expect(progress[0]).toMatch(/^(\d+)\/\1 windows · [\d,]+ events · [\d,]+\/s · ETA 0s$/);
    const logs = screen.filter((line) => /\bINFO\b/.test(line));
    expect(logs.filter((line) => line.includes('package loaded')).length).toBeGreaterThan(2);
    // Every log line starts with its time, never after a progress line's text.
    for (const line of logs) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: /);
  });
});
