import { z } from 'zod';

/** The `warehouse:` block of a `kind: duckdb` config. */
export const duckdbWarehouse = z.strictObject({
  kind: z.literal('duckdb'),
  path: z.string().min(1).default('data/warehouse.duckdb'),
  /**
   * The buffer pool: a run's peak RSS is about this plus 230-270 MB (Node's code and heap, the staging
   * buffer, DuckDB outside the pool; BENCHMARKS.md "Allocator retention"). 160MB, not 128MB: at 10M
   * events the checks and loads of a growing warehouse need the headroom (BENCHMARKS.md "Session 9").
   */
  memory_limit: z
    .string()
    .regex(/^\d+(\.\d+)?\s?(KB|MB|GB|KiB|MiB|GiB)$/, 'expected a size like 256MB')
    .default('160MB'),
  threads: z.int().min(1).max(64).optional(),
});
