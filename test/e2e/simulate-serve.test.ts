import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/workspace.js';

describe('aetl simulate serve', () => {
  it('serves pages and counts behind the bearer token until stopped', async () => {
    const child = spawn(
      process.execPath,
      [
        join(REPO, 'dist/cli/main.js'),
        'simulate',
        'serve',
        '--port',
        '0',
        '--seed',
        '9',
        '--token',
        'sim-token',
        '--json',
      ],
      { env: { ...process.env, AETL_NOW: '2026-05-01T00:00:00Z' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const started = await new Promise<{ url: string; seed: number }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          try {
            resolve(JSON.parse(out));
          } catch {
            // not the whole document yet
          }
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      expect(started.seed).toBe(9);
      const range = 'since=2026-04-30T00:00:00Z&until=2026-04-30T01:00:00Z';
      const denied = await fetch(`${started.url}/v1/events?${range}`);
      expect(denied.status).toBe(401);
      const auth = { headers: { authorization: 'Bearer sim-token' } };
      const count = (await (await fetch(`${started.url}/v1/events?${range}&count=true`, auth)).json()) as {
        count: number;
      };
      const page = (await (await fetch(`${started.url}/v1/events?${range}&limit=1000`, auth)).json()) as {
        data: { id: string }[];
        next_cursor: string | null;
      };
      expect(count.count).toBeGreaterThan(100);
      expect(page.data).toHaveLength(count.count);
      expect(page.next_cursor).toBeNull();
      const firstTwo = (await (await fetch(`${started.url}/v1/events?${range}&limit=2`, auth)).json()) as {
        data: { id: string }[];
        next_cursor: string;
      };
      const next = (await (
        await fetch(`${started.url}/v1/events?${range}&limit=2&cursor=${firstTwo.next_cursor}`, auth)
      ).json()) as {
        data: { id: string }[];
      };
      expect([...firstTwo.data, ...next.data].map((e) => e.id)).toEqual(page.data.slice(0, 4).map((e) => e.id));
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  });
});
