import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { query } from '../helpers/duckdb.js';
import { REPO, workspacesForFile } from '../helpers/workspace.js';

const workspace = workspacesForFile();

/**
 * Issue 20, items 1-3: the package as a user installs it, far from the clone.
 * `npm pack` then `npm install -g --prefix` of the tarball (dependencies from
 * npm's cache, which `npm ci` filled), then the steps `aetl init` prints, run
 * from the new folder with the installed `aetl` on PATH and no flags.
 */
describe('the installed CLI, outside the clone', () => {
  it('npm pack + install -g gives a working aetl: --version, init, run and status from the new folder', async () => {
    const ws = workspace();
    const npm = (args: string[], cwd: string) =>
      execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });
    // dist is built by `npm test` already: no prepare script here.
    const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', ws.dir], REPO).trim().split('\n').at(-1)!;
    npm(['install', '-g', '--prefix', ws.path('prefix'), '--prefer-offline', join(ws.dir, tarball)], ws.dir);

    const env = {
      ...process.env,
      PATH: `${ws.path('prefix', 'bin')}${delimiter}${process.env.PATH}`,
      AETL_CONFIG: '',
      AETL_NOW: '2026-06-10T06:00:00Z',
    };
    const aetl = (args: string[], cwd: string) =>
      execFileSync('aetl', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(aetl(['--version'], ws.dir).trim()).toBe(version);

    const steps = aetl(['init', 'my-project'], ws.dir);
    expect(steps).toContain('cd my-project');
    const project = ws.path('my-project');
    aetl(['run', '--quiet'], project);
    const [facts] = await query(join(project, 'data', 'warehouse.duckdb'), 'SELECT count(*) AS n FROM fact_ai_event');
    expect(Number(facts!.n)).toBeGreaterThan(1000);
    const status = JSON.parse(aetl(['status', '--json'], project)) as {
      checkpoint: string;
      runs: { status: string }[];
    };
    expect(status.runs.map((r) => r.status)).toEqual(['succeeded']);
    expect(status.checkpoint).toBe('2026-06-10T05:58:00.000Z');
  }, 180_000);
});
