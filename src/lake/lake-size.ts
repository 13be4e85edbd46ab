import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of the lake's Parquet files (what a status reader wants to know before the disk fills). */
export function lakeBytes(lake: string): number {
  if (!existsSync(lake)) return 0;
  let total = 0;
  for (const entry of readdirSync(lake, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.parquet')) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}
