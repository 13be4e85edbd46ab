import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturedCall } from '../stand-ins/bigquery/server.js';
import { BigQueryAnalyzer, zetaType, type AnalysisError, type BigQueryType } from './bigquery-analyzer.js';

/** A run's staging tables carry its run id and package number: one name for all, so repeats are one statement. */
const runScoped = (text: string) => text.replace(/(_aetl_stage_\w+?)_\d{8}t\d{6}z_[0-9a-f]+_\d+_/g, '$1_run_');

/**
 * Every statement the BigQuery stand-ins received in this test run (the
 * CLI's SQL, from the e2e and integration tests), analyzed by ZetaSQL
 * against the tables its own stand-in had: the DDL it ran, its CTAS
 * statements and its load jobs' tables. This file runs after all others
 * (test/vitest.config.ts), over the folder test/zetasql/capture-setup.ts made.
 */
describe('BigQuery SQL captured from the whole test run', () => {
  const dir = process.env.AETL_BQ_CAPTURE_DIR!;
  let analyzer: BigQueryAnalyzer;

  beforeAll(async () => {
    analyzer = await BigQueryAnalyzer.start();
  });
  afterAll(() => analyzer?.close());

  it('ZetaSQL finds no error in any captured statement', async () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    expect(
      files.length,
      `no BigQuery stand-in captured anything in ${dir}: run this file with the BigQuery tests`,
    ).toBeGreaterThan(0);
    const errors: (AnalysisError & { file: string })[] = [];
    let captured = 0;
    let analyzed = 0;
    for (const file of files.sort()) {
      analyzer.forgetTables();
      const seen = new Set<string>();
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
        const call = JSON.parse(line) as CapturedCall;
        if ('load' in call) {
          analyzer.addTable(
            runScoped(call.load),
            call.schema.map((c) => ({ name: c.name, type: zetaType(c.type) })),
          );
          continue;
        }
        captured++;
        const sql = runScoped(call.query);
        const key = JSON.stringify([sql, Object.entries(call.params).sort()]);
        if (seen.has(key)) continue;
        seen.add(key);
        analyzed++;
        const params = Object.entries(call.params).filter((e): e is [string, BigQueryType] => e[1] !== null);
        for (const error of await analyzer.analyze(sql, Object.fromEntries(params))) errors.push({ ...error, file });
      }
    }
    const report = errors.map((e) => `${e.file}:\n${e.statement}\n-> ${e.message}`).join('\n\n');
    expect(analyzed).toBeGreaterThan(0);
    console.info(
      `ZetaSQL analyzed ${analyzed} distinct of ${captured} captured BigQuery statements (${files.length} stand-ins)`,
    );
    expect(errors.length, `ZetaSQL rejected ${errors.length} captured statements:\n\n${report}`).toBe(0);
  }, 300_000); // one analysis of every statement the whole suite sent: it grows with the suite
});
