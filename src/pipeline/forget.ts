import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { pseudonym, subjectHash } from '../contract/privacy.js';
import { loadReferenceData } from '../reference/reference-data.js';
import { UsageError } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { pathInside } from '../util/safe-path.js';
import type { ErasureOutcome, WarehouseOperations } from '../warehouse/warehouse.js';
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
  /** Leftover load packages deleted from the staging folder (`<pipeline>/<run id>`). */
  stagingPackages: string[];
}

/**
 * Deletes the staging folders of the warehouse's pipelines (and their dry
 * runs): packages a killed run left behind, never loaded, which may hold the
 * user. Safe under the run lock, which every loading command and dry run of
 * this warehouse holds while its packages live; a run redoes its window anyway.
 */
function removeStagingLeftovers(stagingPath: string, pipelines: string[]): string[] {
  const removed: string[] = [];
  for (const folder of pipelines.flatMap((pipeline) => [pipeline, `${pipeline}-dry-run`])) {
    const dir = pathInside(stagingPath, folder);
    if (!existsSync(dir)) continue;
    removed.push(...readdirSync(dir).map((name) => join(folder, name)));
    rmSync(dir, { recursive: true, force: true });
  }
  return removed;
}

/**
 * `aetl forget --user ID`, refused (exit 2) before anything is opened when it
 * could not hold: a user in the reference data comes back with the next run's
 * reference sync (which every session does before its work, so the check
 * cannot wait for the session). The id and its pseudonym are registered with
 * the redaction layer, so no output, log line or run ledger error shows them.
 */
export function prepareForget(
  config: Config,
  options: ForgetOptions,
): (session: Session<Pick<WarehouseOperations, 'eraseUser'>>) => Promise<ForgetDetail> {
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

  return async (session) => {
    const outcome = await session.warehouse.eraseUser({
      pipeline: session.config.pipeline.name,
      runId: session.runId,
      userIds,
      subjectHash: subject,
      requestedBy: options.requestedBy,
      nowMs: session.nowMs,
    });
    const stagingPackages = removeStagingLeftovers(session.config.staging.path, outcome.pipelines);
    session.logger.info(
      { subject, rows: outcome.rows, partitions: outcome.eventDates.length, stagingPackages: stagingPackages.length },
      'user erased from the warehouse',
    );
    return { ...outcome, subjectHash: subject, requestedBy: options.requestedBy, stagingPackages };
  };
}
