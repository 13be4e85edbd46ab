import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredParams } from '../../src/cli/query-file.js';
import { bigqueryDialect } from '../../src/warehouse/bigquery/bigquery-dialect.js';
import { REPO } from '../helpers/workspace.js';
import { BigQueryAnalyzer, zetaType, type BigQueryType } from './bigquery-analyzer.js';

const DATASET = 'aetl-test.aetl';
const sqlFile = (name: string) =>
  readFileSync(join(REPO, 'sql/bigquery', name), 'utf8').replaceAll('{{dataset}}', DATASET);

/** An analyst query's parameters typed as `aetl query` binds them: by its `-- params:` header. */
function declaredTypes(sql: string): Record<string, BigQueryType> {
  const dialect = bigqueryDialect(DATASET);
  return Object.fromEntries([...declaredParams(sql)].map(([name, type]) => [name, { type: dialect.columnType(type) }]));
}

describe('ZetaSQL, the analyzer BigQuery is built on, judges our BigQuery SQL', () => {
  let analyzer: BigQueryAnalyzer;

  beforeAll(async () => {
    analyzer = await BigQueryAnalyzer.start();
    // The catalog is what the migrations create, analyzed in order, statement by statement.
    for (const file of readdirSync(join(REPO, 'sql/bigquery/migrations')).sort()) {
      expect(await analyzer.analyze(sqlFile(`migrations/${file}`)), file).toEqual([]);
    }
  });
  afterAll(() => analyzer?.close());

  it('catches a wrong column, a type mismatch and an untyped parameter, and passes the correct statement', async () => {
    const table = `\`${DATASET}.etl_state\``;
    const correct = `SELECT UNIX_MILLIS(checkpoint) AS ms FROM ${table} WHERE pipeline = @pipeline`;
    expect(await analyzer.analyze(correct, { pipeline: { type: 'STRING' } })).toEqual([]);

    const [wrongColumn] = await analyzer.analyze(correct.replace('checkpoint', 'checkpoint_ts'), {
      pipeline: { type: 'STRING' },
    });
    expect(wrongColumn!.message).toMatch(/Unrecognized name: checkpoint_ts/);

    const [mismatch] = await analyzer.analyze(correct, { pipeline: { type: 'INT64' } });
    expect(mismatch!.message).toMatch(/No matching signature for operator = for argument types: STRING, INT64/);

    // A NULL sent without a type has none to declare: the analyzer, like BigQuery, refuses the statement.
    const [untyped] = await analyzer.analyze(correct);
    expect(untyped!.message).toMatch(/Query parameter 'pipeline' not found/);

    const [insert] = await analyzer.analyze(
      `INSERT INTO ${table} (pipeline, checkpoint, run_id, updated_at) SELECT @pipeline, @checkpoint, @run_id, @now`,
      {
        pipeline: { type: 'STRING' },
        checkpoint: { type: 'STRING' },
        run_id: { type: 'STRING' },
        now: { type: 'TIMESTAMP' },
      },
    );
    expect(insert!.message).toMatch(
      /Query column 2 has type STRING which cannot be inserted into column checkpoint, which has type TIMESTAMP/,
    );
  });

  it('checks the fields of an ARRAY<STRUCT> parameter read with UNNEST', async () => {
    const sql = `INSERT INTO \`${DATASET}.etl_state\` (pipeline, checkpoint, run_id, updated_at)
SELECT r.pipeline, r.checkpoint, r.run_id, r.updated_at FROM UNNEST(@rows) AS r`;
    const rows = (checkpoint: string): BigQueryType => ({
      type: 'ARRAY',
      arrayType: {
        type: 'STRUCT',
        structTypes: [
          { name: 'pipeline', type: { type: 'STRING' } },
          { name: 'checkpoint', type: { type: checkpoint } },
          { name: 'run_id', type: { type: 'STRING' } },
          { name: 'updated_at', type: { type: 'TIMESTAMP' } },
        ],
      },
    });
    expect(await analyzer.analyze(sql, { rows: rows('TIMESTAMP') })).toEqual([]);
    const [error] = await analyzer.analyze(sql, { rows: rows('STRING') });
    expect(error!.message).toMatch(/Query column 2 has type STRING which cannot be inserted into column checkpoint/);
  });

  it('reports each broken statement of a script, with the statement', async () => {
    const errors = await analyzer.analyze(
      `BEGIN TRANSACTION;\nDELETE FROM \`${DATASET}.etl_state\` WHERE pipelin = 'x';\nSELECT 1;\nSELECT * FROM \`${DATASET}.nope\`;\nCOMMIT TRANSACTION;`,
    );
    expect(errors.map((e) => e.statement)).toEqual([
      `DELETE FROM \`${DATASET}.etl_state\` WHERE pipelin = 'x'`,
      `SELECT * FROM \`${DATASET}.nope\``,
    ]);
    expect(errors[1]!.message).toMatch(/Table not found/);
  });

  it('judges the scripting we emit: IF over @@row_count with RAISE, its condition a BOOL, its message a STRING', async () => {
    const update = `UPDATE \`${DATASET}.etl_state\` SET run_id = @run_id WHERE pipeline = @pipeline`;
    const script = (check: string) => `BEGIN TRANSACTION;\n${update};\n${check};\nCOMMIT TRANSACTION;`;
    const params: Record<string, BigQueryType> = { run_id: { type: 'STRING' }, pipeline: { type: 'STRING' } };
    const fenced = "IF @@row_count <> 1 THEN RAISE USING MESSAGE = 'lost the lease'; END IF";
    expect(await analyzer.analyze(script(fenced), params)).toEqual([]);
    const [notBool] = await analyzer.analyze(script(fenced.replace('@@row_count <> 1', '@@row_count')), params);
    expect(notBool!.message).toBe('@@row_count is not of type BOOL');
    const [unknown] = await analyzer.analyze(script(fenced.replace('row_count', 'rowcount')), params);
    expect(unknown!.message).toMatch(/Unrecognized name: @@rowcount/);
    const [inBody] = await analyzer.analyze(
      script(fenced.replace('RAISE', `${update.replace('run_id =', 'nope =')}; RAISE`)),
      params,
    );
    expect(inBody!.message).toMatch(/^Unrecognized name: nope/);
  });

  it('knows BigQuery functions newer than its own release (JSON_KEYS), with their signatures', async () => {
    expect(await analyzer.analyze(`SELECT k FROM UNNEST(JSON_KEYS(PARSE_JSON('{"a": 1}'), 1)) AS k`)).toEqual([]);
    const [wrong] = await analyzer.analyze(`SELECT JSON_KEYS('{"a": 1}')`);
    expect(wrong!.message).toMatch(/No matching signature for function \S*JSON_KEYS/i);
  });

  it('adds what CREATE TABLE AS SELECT, ALTER TABLE and load jobs create to the catalog', async () => {
    const staged = `\`${DATASET}._aetl_stage_test_events\``;
    expect(await analyzer.analyze(`SELECT event_id FROM ${staged}`)).not.toEqual([]);
    analyzer.addTable(`${DATASET}._aetl_stage_test_events`, [
      { name: 'event_id', type: zetaType('STRING') },
      { name: 'cost_usd', type: zetaType('NUMERIC') },
    ]);
    expect(await analyzer.analyze(`CREATE OR REPLACE TABLE \`${DATASET}.w\` AS SELECT * FROM ${staged}`)).toEqual([]);
    expect(await analyzer.analyze(`SELECT SUM(cost_usd) FROM \`${DATASET}.w\` WHERE event_id = 'e'`)).toEqual([]);
    const noted = `SELECT note FROM \`${DATASET}.w\``;
    expect(await analyzer.analyze(noted)).not.toEqual([]);
    expect(await analyzer.analyze(`ALTER TABLE \`${DATASET}.w\` ADD COLUMN IF NOT EXISTS note STRING`)).toEqual([]);
    expect(await analyzer.analyze(noted)).toEqual([]);
  });

  it('our views and analyst queries (sql/bigquery) analyze with no error, their parameters typed as aetl query binds them', async () => {
    expect(await analyzer.analyze(sqlFile('views.sql'))).toEqual([]);
    const queries = readdirSync(join(REPO, 'sql/bigquery/queries')).filter((f) => f.endsWith('.sql'));
    expect(queries.length).toBeGreaterThan(0);
    for (const file of queries) {
      const sql = sqlFile(`queries/${file}`);
      expect(Object.keys(declaredTypes(sql)), file).toContain('from');
      expect(await analyzer.analyze(sql, declaredTypes(sql)), file).toEqual([]);
    }
  });
});
