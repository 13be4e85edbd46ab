/**
 * BigQuery's own SQL: quoting names and wrapping statements into one script
 * transaction. The load's statements themselves are shared (sql/sql-load.ts).
 */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,1023}$/;

export interface Dataset {
  project: string;
  dataset: string;
}

/** `project.dataset.table`, backtick-quoted; refuses any name that is not a plain identifier. */
export function tableRef({ project, dataset }: Dataset, table: string): string {
  for (const [what, name] of [
    ['project', project],
    ['dataset', dataset],
    ['table', table],
  ] as const) {
    if (!NAME.test(name)) throw new Error(`invalid BigQuery ${what} name: ${JSON.stringify(name)}`);
  }
  return `\`${project}.${dataset}.${table}\``;
}

/** Statements as one multi-statement transaction: BigQuery commits all of them or none. */
export function transactionScript(statements: string[]): string {
  return `BEGIN TRANSACTION;\n\n${statements.map((s) => `${s};\n\n`).join('')}COMMIT TRANSACTION;`;
}
