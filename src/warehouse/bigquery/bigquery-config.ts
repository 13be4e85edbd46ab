import { z } from 'zod';

/** Names that reach BigQuery SQL are validated here, then backtick-quoted (bigquery-dialect.ts). */
export const bigqueryWarehouse = z.strictObject({
  kind: z.literal('bigquery'),
  project: z.string().regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'a Google Cloud project id'),
  dataset: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,1023}$/, 'letters, digits and _'),
  location: z.string().min(1).default('US'),
  /** Another endpoint than Google's: a proxy, or the test stand-in. */
  api_endpoint: z.url().optional(),
  /** A ready OAuth access token (from the environment); without it, Application Default Credentials. */
  access_token: z.string().min(1).optional(),
});
