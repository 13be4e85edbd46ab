import { z } from 'zod';

/** The `warehouse:` block of a `kind: duckdb` config. */
export const duckdbWarehouse = z.strictObject({
  kind: z.literal('duckdb'),
  path: z.string().min(1).default('data/warehouse.duckdb'),
  memory_limit: z
    .string()
    .regex(/^\d+(\.\d+)?\s?(KB|MB|GB|KiB|MiB|GiB)$/, 'expected a size like 256MB')
    .default('256MB'),
  threads: z.int().min(1).max(64).optional(),
});
