import { userInfo } from 'node:os';
import type { Config } from '../config/schema.js';
import { pseudonym, subjectHash } from '../contract/privacy.js';
import { loadReferenceData } from '../reference/reference-data.js';
import { RunFailedError, UsageError } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { compactDuckDBFile } from '../warehouse/duckdb/duckdb-compact.js';
import type { ErasureOutcome } from '../warehouse/warehouse.js';
import { duckdbSettings, duckdbWarehouse } from './open-warehouse.js';
import type { Session } from './session.js';

/** dim_user's unknown member (key 0): the facts without a user, not a person. */
const UNKNOWN_MEMBER = '(unknown)';

export interface ForgetOptions {
  userId: string;
  requestedBy: string;
}

export interface ForgetDetail extends ErasureOutcome {
  subjectHash: string;
  requestedBy: string;
}

export interface PreparedForget {
  work: (session: Session) => Promise<ForgetDetail>;
  /** Compacts the DuckDB file once the session has closed it: the deleted values leave the file too. */
  afterClose: () => Promise<void>;
}

/** Who runs the command: the default requester. */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown'; // a uid without a passwd entry (containers)
  }
}

/**
 * `aetl forget --user ID`, refused (exit 2) before anything is opened when it
 * could not hold: a user in the reference data comes back with the next run's
 * reference sync (which every session does before its work, so the check
 * cannot wait for the session). The id and its pseudonym are registered with
 * the redaction layer, so no output, log line or run ledger error shows them.
 */
export function prepareForget(config: Config, options: ForgetOptions): PreparedForget {
  const warehouse = duckdbWarehouse(config, 'forget');
  const userId = options.userId.trim(); // as the contract stores ids
  if (userId === '' || userId === UNKNOWN_MEMBER) {
    throw new UsageError('--user must name a user (not empty, not the unknown member)');
  }
  const listed = loadReferenceData(config.reference).users.find((row) => row.natural === userId);
  if (listed) {
    throw new UsageError(
      `this user is in the reference data (${listed.where}): remove them from that file first, ` +
        'or the next run would add them back',
    );
  }
  // A key, even with pseudonymisation off now: rows loaded while it was on hold the pseudonym.
  const key = config.privacy.key ?? null;
  const userIds = key === null ? [userId] : [userId, pseudonym(key, userId)];
  userIds.forEach(registerSecret);
  const subject = subjectHash(key, userId);

  return {
    work: async (session) => {
      const outcome = await session.warehouse.eraseUser({
        pipeline: session.config.pipeline.name,
        runId: session.runId,
        userIds,
        subjectHash: subject,
        requestedBy: options.requestedBy,
        nowMs: session.nowMs,
      });
      session.logger.info(
        { subject, rows: outcome.rows, partitions: outcome.eventDates.length },
        'user erased from the warehouse',
      );
      return { ...outcome, subjectHash: subject, requestedBy: options.requestedBy };
    },
    afterClose: async () => {
      try {
        await compactDuckDBFile(warehouse.path, duckdbSettings(config, warehouse));
      } catch (error) {
        throw new RunFailedError(
          `the erasure is committed, but compacting ${warehouse.path} failed (${(error as Error).message}); ` +
            'the removed values stay in its free blocks until `aetl forget` runs again',
        );
      }
    },
  };
}
