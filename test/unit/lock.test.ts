import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LockHeldError, RunLock } from '../../src/state/lock.js';
import { Workspace } from '../helpers/workspace.js';

const ws = new Workspace();
afterAll(() => ws.remove());

function holder(path: string, owner: { pid: number; host: string }, ageMs = 0): void {
  writeFileSync(path, JSON.stringify({ token: 'x', runId: 'r-old', command: 'run', acquiredAt: 'then', ...owner }));
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

describe('RunLock', () => {
  it('is exclusive and names its holder', async () => {
    const path = ws.path('a.lock');
    const first = await RunLock.acquire(path, 'run-1', 'run', 0);
    const error = await RunLock.acquire(path, 'run-2', 'run', 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as Error).message).toMatch(/another run holds the lock .*a\.lock \(run run-1, pid \d+ on /);
    first.release();
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a live holder up to the limit', async () => {
    const path = ws.path('b.lock');
    const first = await RunLock.acquire(path, 'run-1', 'run', 0);
    setTimeout(() => first.release(), 300);
    const second = await RunLock.acquire(path, 'run-2', 'run', 5000);
    expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('run-2');
    second.release();
  });

  it('takes over a lock whose holder died on this host, at once', async () => {
    const path = ws.path('c.lock');
    holder(path, { pid: 2 ** 22 + 12345, host: hostname() }); // no such process
    const lock = await RunLock.acquire(path, 'run-3', 'run', 0);
    expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('run-3');
    lock.release();
  });

  it('respects a fresh lock from another host, and takes it over once stale (no heartbeat for 60 s)', async () => {
    const path = ws.path('d.lock');
    holder(path, { pid: 1, host: 'elsewhere' });
    await expect(RunLock.acquire(path, 'run-4', 'run', 0)).rejects.toThrow(/pid 1 on elsewhere/);
    holder(path, { pid: 1, host: 'elsewhere' }, 61_000);
    const lock = await RunLock.acquire(path, 'run-4', 'run', 0);
    expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('run-4');
    lock.release();
  });

  it('does not release a lock another process took over', async () => {
    const path = ws.path('e.lock');
    const lock = await RunLock.acquire(path, 'run-5', 'run', 0);
    holder(path, { pid: process.pid, host: 'other' });
    lock.release();
    expect(existsSync(path)).toBe(true);
  });

  it('a holder killed at any moment of acquiring leaves a lock the next run can judge', async () => {
    const path = ws.path('f.lock');
    const lockModule = resolve('dist/state/lock.js'); // `npm test` builds first
    const churn = `const { RunLock } = await import(${JSON.stringify(lockModule)});
      console.log('ready');
      for (;;) (await RunLock.acquire(${JSON.stringify(path)}, 'churn', 'run', 0)).release();`;
    for (let round = 0; round < 15; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', churn], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await once(child.stdout, 'data');
      await sleep(5 + round * 3);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const lock = await RunLock.acquire(path, `run-${round}`, 'run', 0);
      lock.release();
    }
    expect(readdirSync(ws.path('.')).filter((name) => name.startsWith('f.lock'))).toEqual([]);
  });
});
