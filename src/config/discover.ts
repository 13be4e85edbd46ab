import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../util/errors.js';

/** The config file a command uses and how it was found (DESIGN.md decision 23, like dbt's project discovery). */
export interface FoundConfig {
  file: string;
  how: '--config' | 'AETL_CONFIG' | 'the working folder';
}

/** Looked for in the working folder, in this order, when neither `--config` nor `AETL_CONFIG` names a file. */
export const DEFAULT_CONFIG_FILES = ['aetl.yaml', 'config/aetl.yaml'];

/**
 * `--config`, else `AETL_CONFIG`, else `./aetl.yaml`, else `./config/aetl.yaml`.
 * A named file is used as named (a missing one is reported when it is read);
 * with none named and none found, the error says where it looked.
 */
export function discoverConfig(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): FoundConfig {
  if (flag !== undefined) return { file: flag, how: '--config' };
  const fromEnv = env.AETL_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return { file: fromEnv, how: 'AETL_CONFIG' };
  const found = DEFAULT_CONFIG_FILES.find((name) => existsSync(resolve(cwd, name)));
  if (found !== undefined) return { file: found, how: 'the working folder' };
  throw new ConfigError(
    `no config found: no --config, AETL_CONFIG is not set, and neither ${DEFAULT_CONFIG_FILES.map((f) => `./${f}`).join(' nor ')} ` +
      `exists in ${cwd}. Run \`aetl init DIR\` to write one, or pass --config FILE`,
  );
}
