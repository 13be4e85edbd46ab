import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aetl, spawnAetl } from '../helpers/cli.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { REPO, workspacesForFile } from '../helpers/workspace.js';

const workspace = workspacesForFile();

describe('output into a reader that went away (issue 20, item 8)', () => {
  it('aetl query | head: the closed pipe ends the command quietly, exit 0, no stack trace', async () => {
    const ws = workspace();
    writeFileSync(ws.path('events.jsonl'), jsonLines(Array.from({ length: 50 }, (_, i) => shapeA(`evt-${i}`, i))));
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('events.jsonl') } });
    expect((await aetl(['run', '--config', config])).code).toBe(0);

    const query = join(REPO, 'sql/duckdb/queries/model_usage_and_cost.sql');
    const args = ['query', query, '-p', 'from=2026-04-10T00:00:00Z', '-p', 'to=2026-04-11T00:00:00Z'];
    const running = spawnAetl([...args, '--json', '--config', config]);
    running.child.stdout!.destroy(); // as `head` does once it has its lines
    const result = await running.done;
    expect(result.stderr).not.toMatch(/EPIPE|Error|at .*\.js:\d+/);
    expect(result.code).toBe(0);
  });
});
