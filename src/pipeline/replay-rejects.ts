import { join } from 'node:path';
import type { RawRecord } from '../source/source.js';
import { validateBatch, type ValidationRules } from '../staging/validate-batch.js';
import { isMaskedUserId, USER_FIELDS } from '../contract/privacy.js';
import type { RejectKey, StoredReject, WarehouseOperations } from '../warehouse/warehouse.js';
import { PackageBuilder } from './extract.js';
import { loadPackage, validationRules, type PackageWarehouse } from './package-steps.js';
import type { Session } from './session.js';

export interface RejectsReplayDetail {
  /** Quarantined records looked at (not replayed before). */
  examined: number;
  /** Of those, the ones that pass the contract now: loaded (or found already loaded) and marked replayed. */
  replayed: number;
  /** Still rejected: left in quarantine as they are. */
  stillRejected: number;
  /** Of those, kept only in part (over 64 KiB): never replayed; the record must be read from its source again. */
  truncated: number;
}

/**
 * Rejects re-validated per page at most; those that pass load in packages of at most
 * `staging.package_bytes` of payload, as any package (a kept payload is up to 64 KiB).
 */
const MAX_REPLAY_BATCH = 10_000;

function asRecord(reject: StoredReject): RawRecord {
  return { kind: 'line', text: reject.payload, location: { source: reject.sourceLocation, ref: reject.sourceRef } };
}

/**
 * `aetl rejects replay [--run ID | --all]`: re-validates quarantined records
 * with today's contract and config (say after `contract.decision_aliases`
 * learnt a new decision value) and loads the ones that pass, through the same
 * load as any package: insert-only, so a replay done twice loads nothing
 * twice. The records that passed are marked replayed in the load's
 * transaction, never deleted; the others stay as they were.
 */
export function replayRejects(
  runId: string | null,
): (session: Session<PackageWarehouse & Pick<WarehouseOperations, 'rejectsToReplay'>>) => Promise<RejectsReplayDetail> {
  return async (session) => {
    const rules: ValidationRules = validationRules(session, null);
    // Stored payloads were masked already (pseudonyms stay as they are; dropped keys are gone).
    rules.privacy = { ...rules.privacy, keepPseudonyms: true };
    const detail: RejectsReplayDetail = { examined: 0, replayed: 0, stillRejected: 0, truncated: 0 };
    const batch = Math.min(session.config.staging.package_records, MAX_REPLAY_BATCH);
    let after: RejectKey | null = null;
    for (;;) {
      session.stop.throwIfRequested();
      const page = await session.warehouse.rejectsToReplay(session.config.pipeline.name, runId, after, batch);
      if (page.length === 0) break;
      after = page.at(-1)!;
      // A truncated payload may even parse (cut right after a valid object): it is not the record that arrived.
      const truncated = page.filter((r) => r.truncated).length;
      const passing = page.filter(
        (r) => !r.truncated && !refusedForMaskedUser(r) && validateBatch([asRecord(r)], rules).events.length === 1,
      );
      detail.examined += page.length;
      detail.truncated += truncated;
      detail.stillRejected += page.length - passing.length;
      detail.replayed += passing.length;
      for (const pkg of byText(passing, session.config.staging.package_bytes)) await loadReplayed(session, rules, pkg);
    }
    session.logger.info({ ...detail }, 'rejects replayed');
    return detail;
  };
}

/** Consecutive runs of records, each closed once it holds `limit` characters of payload. */
function byText(records: StoredReject[], limit: number): StoredReject[][] {
  const packages: StoredReject[][] = [];
  let chars = Infinity;
  for (const record of records) {
    if (chars >= limit) {
      packages.push([]);
      chars = 0;
    }
    packages.at(-1)!.push(record);
    chars += record.payload.length;
  }
  return packages;
}

/**
 * A record refused for its user id whose stored payload holds a pseudonym (or
 * the erased marker) in its place: the value that was refused is gone, so the
 * masked one, valid as it may look, must not pass for it.
 */
function refusedForMaskedUser(reject: StoredReject): boolean {
  if (!reject.reasonPaths.some((path) => USER_FIELDS.includes(path))) return false;
  try {
    const value = JSON.parse(reject.payload) as Record<string, unknown>;
    return USER_FIELDS.some((field) => isMaskedUserId(value[field]));
  } catch {
    return false; // not JSON: the contract refuses it again anyway
  }
}

/** One package of records that pass now, loaded like any other; marked replayed in the load's transaction. */
async function loadReplayed(
  session: Session<PackageWarehouse>,
  rules: ValidationRules,
  passing: StoredReject[],
): Promise<void> {
  const seq = session.nextSeq();
  const dir = join(session.stagingRoot, session.runId, String(seq).padStart(4, '0'));
  const started = performance.now();
  const builder = await PackageBuilder.create(dir, rules);
  try {
    await builder.add(passing.map(asRecord));
  } catch (error) {
    await builder.abort();
    throw error;
  }
  const manifest = await builder.finish(session.runId, null, []);
  const keys: RejectKey[] = passing.map((r) => ({ sourceLocation: r.sourceLocation, payloadHash: r.payloadHash }));
  const pkg = { seq, dir, manifest, extractMs: Math.round(performance.now() - started) };
  await loadPackage(session, pkg, null, { replayedRejects: keys });
}
