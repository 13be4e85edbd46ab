import { createInterface } from 'node:readline/promises';
import type { Session } from '../pipeline/session.js';
import type { WarehouseState } from '../warehouse/warehouse.js';
import { UsageError } from '../util/errors.js';
import { isoInstant } from '../util/dates.js';

/** What `aetl state` changes, asked for on a terminal, or given with --yes (never assumed). */
export async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new UsageError(`${question}: pass --yes to confirm (not a terminal to ask on)`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('not confirmed: nothing changed');
}

/** `aetl state set-checkpoint` / `reset`, run as a session: under the lock and in the run ledger. */
export function setState(checkpointMs: number | null, clearFileLedger: boolean) {
  return async (
    session: Session<Pick<WarehouseState, 'getCheckpoint' | 'setState'>>,
  ): Promise<{ before: string | null; after: string | null }> => {
    const pipeline = session.config.pipeline.name;
    const before = await session.warehouse.getCheckpoint(pipeline);
    await session.warehouse.setState(pipeline, session.runId, checkpointMs, clearFileLedger, session.nowMs);
    session.logger.warn(
      { before: isoInstant(before), after: checkpointMs, clearFileLedger },
      'pipeline state set by hand',
    );
    return {
      before: isoInstant(before),
      after: isoInstant(checkpointMs),
    };
  };
}
