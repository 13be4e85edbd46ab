import { BigQueryStandIn } from '../stand-ins/bigquery/server.js';
import { SnowflakeStandIn } from '../stand-ins/snowflake/server.js';
import { query } from './duckdb.js';
import type { Workspace } from './workspace.js';

/**
 * One warehouse engine for a test parametrised over engines (`describe.each(ENGINES)`):
 * DuckDB itself, or BigQuery and Snowflake through their real clients against
 * the stand-ins, whose DuckDB the assertions read directly.
 */
export interface EngineUnderTest {
  /** The config's `warehouse:` section. */
  warehouse: Record<string, unknown>;
  /** What the CLI needs in its environment (the secret the config names). */
  env: Record<string, string>;
  /** DuckDB SQL over (or, for a test's setup, into) what the warehouse holds; `{s}` is replaced by our schema's prefix. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** BigQuery and Snowflake: the rows of each result page (BigQuery) or chunk after the inline rows (Snowflake) served so far. */
  pagesServed?: number[];
  close(): Promise<void>;
}

const BQ_TOKEN = 'ya29.engines-test-token';
const SF_PASSWORD = 'sf-engines-test-password';

/** The config's `warehouse:` block for a BigQuery stand-in at `url`; its token is read from `BQ_TOKEN`. */
export const bigqueryWarehouse = (url: string) => ({
  kind: 'bigquery',
  project: 'aetl-test',
  dataset: 'aetl',
  api_endpoint: url,
  access_token: '${BQ_TOKEN}',
});

/** The config's `warehouse:` block for a Snowflake stand-in at `url`; its password is read from `SF_PASSWORD`. */
export const snowflakeWarehouse = (url: string) => ({
  kind: 'snowflake',
  account: 'aetl_test',
  user: 'loader',
  password: '${SF_PASSWORD}',
  database: 'aetl',
  schema: 'public',
  warehouse: 'load_wh',
  access_url: url,
});

export const ENGINES: { name: string; start(ws: Workspace): Promise<EngineUnderTest> }[] = [
  {
    name: 'duckdb',
    start: async (ws) => ({
      warehouse: { kind: 'duckdb', path: 'data/warehouse.duckdb' },
      env: {},
      rows: (sql) => query(ws.warehouse, sql.replaceAll('{s}', ''), true),
      close: async () => undefined,
    }),
  },
  {
    name: 'bigquery',
    start: async () => {
      const standIn = await BigQueryStandIn.start(BQ_TOKEN);
      return {
        warehouse: bigqueryWarehouse(standIn.url),
        env: { BQ_TOKEN },
        rows: (sql) => standIn.rows(sql.replaceAll('{s}', 'aetl.')),
        pagesServed: standIn.pagesServed,
        close: () => standIn.close(),
      };
    },
  },
  {
    name: 'snowflake',
    start: async () => {
      const standIn = await SnowflakeStandIn.start(SF_PASSWORD);
      return {
        warehouse: snowflakeWarehouse(standIn.url),
        env: { SF_PASSWORD },
        rows: (sql) => standIn.rows(sql.replaceAll('{s}', 'aetl.public.')),
        pagesServed: standIn.chunksServed,
        close: () => standIn.close(),
      };
    },
  },
];
