import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';

const SHIPPED_REFERENCE = fileURLToPath(new URL('../../config/reference/', import.meta.url));
const REFERENCE_FILES = ['users.csv', 'gateways.csv', 'models.csv'];

/** The config `aetl init` writes: runs as is against the built-in simulator, with the real source beside it. */
const CONFIG_TEMPLATE = `# ai-event-etl pipeline config (written by aetl init). Paths are relative to this file;
# secrets only through \${ENV_VAR}. Every key and its default: see the README's Configuration table.
pipeline:
  name: default                 # keys the checkpoint, runs and locks; one per pipeline sharing a warehouse

source:
  kind: simulator               # the built-in simulated Events API, to try everything out
  simulator:
    seed: 42
    rate_per_minute: 5
  # The real Events API:
  # kind: events_api
  # url: https://gateway.example.com
  # token: \${AETL_SOURCE_TOKEN}
  # Or files (a path, a folder or a glob of .jsonl / .json / .csv, gzipped or not):
  # kind: files
  # files: inbox/

window:
  lookback: 1h                  # each window re-reads this much before the checkpoint (late events)
  settle_delay: 2m              # the newest window ends this long before now
  max_window: 6h

warehouse:
  kind: duckdb                  # or bigquery / snowflake (see the README)
  path: data/warehouse.duckdb

lake:
  path: data/lake               # Parquet, one folder per table and event date

staging:
  path: data/staging

# Reference data for the dimensions: edit these CSVs (a row per member; add valid_from for history).
reference:
  users: reference/users.csv
  gateways: reference/gateways.csv
  models: reference/models.csv

checks:
  max_reject_rate: 0.01         # a run with more rejected records fails (exit 1), rejects kept
  # alert: { url: \${AETL_ALERT_URL}, secret: \${AETL_ALERT_SECRET} }

# privacy:
#   pseudonymize_users: true
#   key: \${AETL_PSEUDONYM_KEY}
#   drop_metadata_keys: [prompt]
`;

/** `aetl init [dir]`: a config and reference CSV templates; never overwrites a file. Returns what it wrote. */
export function initProject(dir: string): string[] {
  const root = resolve(dir);
  const targets = [join(root, 'aetl.yaml'), ...REFERENCE_FILES.map((f) => join(root, 'reference', f))];
  const existing = targets.filter((t) => existsSync(t));
  if (existing.length > 0)
    throw new UsageError(`aetl init would overwrite ${existing.join(', ')}: choose another folder`);
  mkdirSync(join(root, 'reference'), { recursive: true });
  writeFileSync(targets[0]!, CONFIG_TEMPLATE);
  for (const file of REFERENCE_FILES) copyFileSync(join(SHIPPED_REFERENCE, file), join(root, 'reference', file));
  return targets;
}

/** What to do next, from the folder init wrote: every command there finds ./aetl.yaml by itself. */
export function nextSteps(dir: string): string {
  return [
    `wrote ${join(dir, 'aetl.yaml')} and ${join(dir, 'reference')}/{users,gateways,models}.csv`,
    '',
    'next:',
    ...(resolve(dir) === process.cwd() ? [] : [`  0. go there:                        cd ${dir}`]),
    '  1. try it against the simulator:   aetl run',
    '  2. look at what happened:          aetl status',
    '  3. point source: at your Events API (token from the environment), edit the reference CSVs',
    '  4. schedule it:                    aetl schedule   (or cron, Airflow: see the README)',
  ].join('\n');
}
