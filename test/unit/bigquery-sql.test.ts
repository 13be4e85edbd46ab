import { describe, expect, it } from 'vitest';
import {
  batchStatsSql,
  commitScript,
  insertRejectsSql,
  loadScript,
  stagingTables,
  tableRef,
} from '../../src/warehouse/bigquery/bigquery-sql.js';

const ds = { project: 'acme-data', dataset: 'ai_events' };

describe('BigQuery SQL generation', () => {
  it('quotes validated names and refuses anything else', () => {
    expect(tableRef(ds, 'fact_ai_event')).toBe('`acme-data.ai_events.fact_ai_event`');
    expect(() => tableRef({ ...ds, dataset: 'x`; DROP TABLE y; --' }, 't')).toThrow(/invalid BigQuery dataset name/);
    expect(() => tableRef(ds, 'a.b')).toThrow(/invalid BigQuery table name/);
  });

  it('names run-scoped staging tables from the run id and package', () => {
    expect(stagingTables('20261123T174228Z-c3a59a', 2)).toEqual({
      events: '_aetl_stage_20261123t174228z_c3a59a_2_events',
      policies: '_aetl_stage_20261123t174228z_c3a59a_2_policies',
      rejects: '_aetl_stage_20261123t174228z_c3a59a_2_rejects',
    });
  });

  it('emits the load of one package as this text', () => {
    const staging = stagingTables('run-1', 1);
    expect(batchStatsSql(ds, staging.events)).toMatchSnapshot();
    expect(loadScript(ds, staging, true)).toMatchSnapshot();
    expect(insertRejectsSql(ds, staging.rejects)).toMatchSnapshot();
    expect(commitScript(ds, { checkpoint: true, files: 1 })).toMatchSnapshot();
    expect(loadScript(ds, staging, false)).not.toContain('fact_policy_evaluation');
    const windowFailedChecks = commitScript(ds, { checkpoint: false, files: 0 });
    expect(windowFailedChecks).not.toContain('etl_state');
    expect(windowFailedChecks).not.toContain('etl_file_ledger');
  });
});
