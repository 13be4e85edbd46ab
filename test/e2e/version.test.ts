import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, workspacesForFile } from '../helpers/workspace.js';

const workspace = workspacesForFile();

describe('aetl --version (issue 20, item 1)', () => {
  it("prints the package's version, whatever the working folder", () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const out = execFileSync(process.execPath, [join(REPO, 'dist/cli/main.js'), flag], {
        cwd: workspace().dir,
        encoding: 'utf8',
      });
      expect(out.trim()).toBe(version);
    }
  });
});
