import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadReferenceData, type ReferenceData } from '../../src/reference/reference-data.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const REFERENCE = join(REPO, 'config/reference');

/** A throw-away folder holding a config, its warehouse, lake and staging. */
export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'aetl-test-'));

  get warehouse(): string {
    return join(this.dir, 'data', 'warehouse.duckdb');
  }

  get lake(): string {
    return join(this.dir, 'lake');
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Writes `config.yaml` from the defaults merged with `overrides`; returns its path. */
  writeConfig(overrides: Record<string, unknown> = {}, name = 'config.yaml'): string {
    const config = {
      source: { kind: 'simulator', simulator: { seed: 7, rate_per_minute: 3 } },
      // A folder that does not exist yet, as on a fresh clone.
      warehouse: { kind: 'duckdb', path: 'data/warehouse.duckdb' },
      lake: { path: 'lake' },
      staging: { path: 'staging' },
      reference: REFERENCE_PATHS,
      ...overrides,
    };
    const file = this.path(name);
    writeFileSync(file, stringify(config));
    return file;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const REFERENCE_PATHS = {
  users: join(REFERENCE, 'users.csv'),
  gateways: join(REFERENCE, 'gateways.csv'),
  models: join(REFERENCE, 'models.csv'),
};

/** The shipped reference CSVs, as the simulator and the loader read them. */
export function shippedReference(): ReferenceData {
  return loadReferenceData(REFERENCE_PATHS);
}

/** A test file's workspaces: `workspace()` makes one, and all of them are removed after the file's tests. */
export function workspacesForFile(): () => Workspace {
  const made: Workspace[] = [];
  // Generous: a workspace can hold an installed package tree, slow to delete on a busy machine.
  afterAll(() => made.forEach((w) => w.remove()), 300_000);
  return () => {
    const ws = new Workspace();
    made.push(ws);
    return ws;
  };
}
