import { join } from 'node:path';
import type { LoadRequest } from '../warehouse.js';
import type { SqlParams } from '../sql/sql-engine.js';
import { isStagingTableOf, type StagingTables } from '../sql/sql-load.js';
import { SqlWarehouse } from '../sql/sql-warehouse.js';
import { BigQueryClient, type BigQuerySettings } from './bigquery-client.js';
import { migrateBigQuery } from './bigquery-schema.js';
import { transactionScript } from './bigquery-sql.js';

/**
 * The warehouse on BigQuery: load jobs into run-scoped staging tables (never
 * streaming inserts: they block DML for up to 90 minutes), then the merge and
 * the commit each as one script transaction (BigQuery has no transaction
 * across requests without sessions; a crash between them leaves a window to
 * redo, which the insert-only MERGE makes harmless).
 */
export class BigQueryWarehouse extends SqlWarehouse {
  readonly description: string;

  constructor(private readonly client: BigQueryClient) {
    super(client.engine());
    this.description = `BigQuery ${client.settings.project}.${client.settings.dataset}`;
  }

  static open(settings: BigQuerySettings): BigQueryWarehouse {
    return new BigQueryWarehouse(BigQueryClient.create(settings));
  }

  migrate(): Promise<number> {
    return migrateBigQuery(this.client, this.state);
  }

  /** The package's Parquet files, each through a load job into its run-scoped staging table. */
  protected async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    const { files } = request.manifest;
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      for (const file of files[kind]) {
        await this.client.loadParquet(`loading staged ${kind}`, join(request.packageDir, file), staging[kind]);
      }
    }
  }

  protected transaction<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  protected async runTogether(purpose: string, statements: string[], params: SqlParams): Promise<void> {
    await this.engine.run(purpose, transactionScript(statements), params);
  }

  protected async dropStaging(_request: LoadRequest, staging: StagingTables): Promise<void> {
    for (const table of Object.values(staging)) await this.client.dropTable(table).catch(() => undefined);
  }

  protected async dropLeftovers(pipeline: string): Promise<void> {
    for (const table of await this.client.tableNames('_aetl_stage_')) {
      if (isStagingTableOf(pipeline, table)) await this.client.dropTable(table);
    }
  }

  async close(): Promise<void> {}
}
