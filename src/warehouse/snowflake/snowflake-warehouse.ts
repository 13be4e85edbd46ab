import { join } from 'node:path';
import { snowflakeQualified } from '../../checks/dialect.js';
import { RunFailedError } from '../../util/errors.js';
import type { LoadRequest } from '../warehouse.js';
import { text, type SqlParams } from '../sql/sql-engine.js';
import { isStagingTableOf, type StagingTables } from '../sql/sql-load.js';
import { SqlWarehouse } from '../sql/sql-warehouse.js';
import { SnowflakeClient, type SnowflakeSettings } from './snowflake-client.js';
import {
  copySql,
  createStageSql,
  ddlStatements,
  putSql,
  removeSql,
  stageLocation,
  stagingDdl,
} from './snowflake-sql.js';

export interface SnowflakeOptions {
  /** A named stage of the user's; without one the loader creates and uses `AETL_STAGE`. */
  stage?: string | undefined;
  /** Adds a clustering key on the event date to the fact tables. */
  clusterByDate: boolean;
}

const DEFAULT_STAGE = 'aetl_stage';
const FACT_TABLES = ['fact_ai_event', 'fact_policy_evaluation'] as const;

/**
 * The warehouse on Snowflake: each package's staged Parquet is PUT to a stage
 * and COPied into run-scoped transient staging tables; then one transaction
 * holds the insert-only MERGE, the policy rows, the rejects, the blocking
 * checks and the checkpoint (decision 1, as on DuckDB). Staged files and
 * tables are removed after each package; a killed run's leftovers at the
 * start of the next one.
 */
export class SnowflakeWarehouse extends SqlWarehouse {
  readonly description: string;
  private readonly stageName: string;
  /** Set when a failed ROLLBACK made us close the session: nothing more may run on it. */
  private sessionLost = false;

  private constructor(
    private readonly client: SnowflakeClient,
    private readonly options: SnowflakeOptions,
  ) {
    super(client.engine());
    const { account, database, schema } = client.settings;
    this.description = `Snowflake ${account} ${database}.${schema}`;
    this.stageName = snowflakeQualified(database, schema, options.stage ?? DEFAULT_STAGE);
  }

  static async open(settings: SnowflakeSettings, options: SnowflakeOptions): Promise<SnowflakeWarehouse> {
    return new SnowflakeWarehouse(await SnowflakeClient.connect(settings), options);
  }

  private get schema(): string {
    return snowflakeQualified(this.client.settings.database, this.client.settings.schema);
  }

  /** Our tables (sql/snowflake/ddl.sql, once), our stage if the config names none, and the optional clustering. */
  async migrate(): Promise<number> {
    const applied = await this.state.applySchemaOnce(
      `CREATE TABLE IF NOT EXISTS ${this.dialect.table('etl_schema_version')} (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP_TZ NOT NULL)`,
      async () => {
        for (const sql of ddlStatements('ddl.sql', { schema: this.schema })) {
          await this.engine.run('creating the warehouse tables', sql);
        }
      },
    );
    if (!this.options.stage) await this.engine.run('creating the stage', createStageSql(this.stageName));
    if (this.options.clusterByDate) {
      for (const table of FACT_TABLES) {
        await this.engine.run(
          `clustering ${table}`,
          `ALTER TABLE ${this.dialect.table(table)} CLUSTER BY (TO_DATE(event_ts))`,
        );
      }
    }
    return applied;
  }

  /** PUT each file under the package's own stage path, then COPY each kind into its new staging table. */
  protected async stage(request: LoadRequest, staging: StagingTables): Promise<void> {
    for (const sql of stagingDdl((t) => this.dialect.table(t), staging)) {
      await this.engine.run('creating staging tables', sql);
    }
    const { files } = request.manifest;
    const root = stageLocation(this.stageName, request.pipeline, request.runId, request.seq);
    for (const kind of ['events', 'policies', 'rejects'] as const) {
      if (files[kind].length === 0) continue;
      const location = `${root}${kind}/`;
      for (const file of files[kind]) {
        await this.client.put(`staging ${kind} files`, putSql(join(request.packageDir, file), location));
      }
      const result = await this.engine.run(
        `copying staged ${kind}`,
        copySql(this.dialect.table(staging[kind]), location),
      );
      const loaded = result.filter((r) => r.status === 'LOADED').length;
      if (loaded !== files[kind].length) {
        throw new RunFailedError(
          `Snowflake copying staged ${kind} loaded ${loaded} of ${files[kind].length} files from ${location} ` +
            `(${result.map((r) => `${String(r.file ?? '?')}: ${String(r.status)}`).join(', ')})`,
        );
      }
    }
  }

  /** One transaction from the merge to the checkpoint; any error rolls it all back. */
  protected async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.engine.run('starting the load transaction', 'BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.engine.run('committing the load transaction', 'COMMIT');
      return result;
    } catch (error) {
      try {
        await this.engine.run('rolling back the load transaction', 'ROLLBACK');
      } catch {
        // Any DDL on this session (the staging drops) would commit half a load: end the session
        // instead, which rolls the transaction back; the next run removes what is left staged.
        this.sessionLost = true;
        await this.client.close();
      }
      throw error;
    }
  }

  /** Already inside `transaction`: statements run one by one and commit with it. */
  protected async runTogether(purpose: string, statements: string[], params: SqlParams): Promise<void> {
    for (const sql of statements) await this.engine.run(purpose, sql, params);
  }

  protected async dropStaging(request: LoadRequest, staging: StagingTables): Promise<void> {
    if (this.sessionLost) return;
    const files = stageLocation(this.stageName, request.pipeline, request.runId, request.seq);
    await this.engine.run('removing staged files', removeSql(files)).catch(() => undefined);
    for (const table of Object.values(staging)) {
      await this.engine
        .run('dropping a staging table', `DROP TABLE IF EXISTS ${this.dialect.table(table)}`)
        .catch(() => undefined);
    }
  }

  protected async dropLeftovers(pipeline: string): Promise<void> {
    const { database, schema } = this.client.settings;
    const tables = await this.engine.run(
      'listing staging tables',
      `SELECT table_name FROM ${snowflakeQualified(database)}.INFORMATION_SCHEMA.TABLES
       WHERE table_catalog = :database AND table_schema = :schema`,
      { database: text(database.toUpperCase()), schema: text(schema.toUpperCase()) },
    );
    for (const { table_name: name } of tables) {
      if (isStagingTableOf(pipeline, String(name))) {
        await this.engine.run(
          'dropping a leftover staging table',
          `DROP TABLE IF EXISTS ${this.dialect.table(String(name).toLowerCase())}`,
        );
      }
    }
    await this.engine.run('removing leftover staged files', removeSql(stageLocation(this.stageName, pipeline)));
  }

  async close(): Promise<void> {
    if (!this.sessionLost) await this.client.close();
  }
}
