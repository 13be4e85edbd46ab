import { join } from 'node:path';
import type { RawRecord } from '../source/source.js';
import { validateBatch, type ValidationRules } from '../staging/validate-batch.js';
import type { RejectKey, StoredReject } from '../warehouse/warehouse.js';
import { PackageBuilder } from './extract.js';
import { loadPackage, validationRules } from './package-steps.js';
import type { Session } from './session.js';

export interface RejectsReplayDetail {
  /** Quarantined records looked at (not replayed before). */
  examined: number;
  /** Of those, the ones that pass the contract now: loaded (or found already loaded) and marked replayed. */
  replayed: number;
  /** Still rejected: left in quarantine as they are. */
  stillRejected: number;
}

/** Records re-validated and loaded per package. */
const REPLAY_BATCH = 10_000;

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
export function replayRejects(runId: string | null): (session: Session) => Promise<RejectsReplayDetail> {
  return async (session) => {
    const rejects = await session.warehouse.rejectsToReplay(session.config.pipeline.name, runId);
    const rules: ValidationRules = validationRules(session.config, null);
    // Stored payloads were masked already (pseudonyms stay as they are; dropped keys are gone).
    rules.privacy = { ...rules.privacy, keepPseudonyms: true };
    const detail: RejectsReplayDetail = { examined: rejects.length, replayed: 0, stillRejected: 0 };
    for (let at = 0; at < rejects.length; at += REPLAY_BATCH) {
      session.stop.throwIfRequested();
      const passing = rejects
        .slice(at, at + REPLAY_BATCH)
        .filter((r) => validateBatch([asRecord(r)], rules).events.length === 1);
      detail.stillRejected += Math.min(REPLAY_BATCH, rejects.length - at) - passing.length;
      if (passing.length === 0) continue;
      const seq = session.nextSeq();
      const dir = join(session.stagingRoot, session.runId, String(seq).padStart(4, '0'));
      const started = performance.now();
      const builder = await PackageBuilder.create(dir, rules);
      try {
        await builder.add(passing.map(asRecord));
      } catch (error) {
        builder.abort();
        throw error;
      }
      const manifest = await builder.finish(session.runId, null, []);
      const keys: RejectKey[] = passing.map((r) => ({ sourceLocation: r.sourceLocation, payloadHash: r.payloadHash }));
      const pkg = { seq, dir, manifest, extractMs: Math.round(performance.now() - started) };
      await loadPackage(session, pkg, null, { replayedRejects: keys });
      detail.replayed += passing.length;
    }
    session.logger.info({ ...detail }, 'rejects replayed');
    return detail;
  };
}
