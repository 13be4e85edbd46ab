import { eventHash, sha256Hex, stableStringify } from '../contract/hash.js';
import { normalizeRecord } from '../contract/normalize.js';
import { parseInstantMicros } from '../contract/scalars.js';
import type { RejectReason } from '../contract/event.js';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { StagingWriter } from '../staging/staging-writer.js';
import { writeManifest, type ExtractCounts, type PackageManifest } from '../staging/package.js';

function payloadText(record: RawRecord): string {
  return record.kind === 'unparseable' ? record.text : stableStringify(record.value);
}

function fieldOf(record: RawRecord, field: string): string | null {
  if (record.kind !== 'value' || record.value === null || typeof record.value !== 'object') return null;
  const value = (record.value as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** What a rejected record still tells: its id and its event time, when they are usable. */
function identify(record: RawRecord): { id: string | null; tsUs: number | null } {
  const timestamp = fieldOf(record, 'timestamp');
  const tsUs = timestamp === null ? undefined : parseInstantMicros(timestamp);
  return { id: fieldOf(record, 'id')?.slice(0, 256) ?? null, tsUs: tsUs ?? null };
}

/**
 * Builds one load package: validates each raw record, stages valid events
 * and quarantines the rest (nothing is dropped silently), clips to the window.
 */
export class PackageBuilder {
  readonly counts: ExtractCounts = { read: 0, valid: 0, rejected: 0, outOfWindow: 0 };
  readonly drift: Record<string, number> = {};

  private constructor(
    private readonly writer: StagingWriter,
    private readonly dir: string,
    private readonly window: TimeWindow | null,
  ) {}

  static async create(dir: string, window: TimeWindow | null, memoryLimit: string): Promise<PackageBuilder> {
    return new PackageBuilder(await StagingWriter.create(dir, memoryLimit), dir, window);
  }

  async add(records: readonly RawRecord[]): Promise<void> {
    for (const record of records) {
      this.counts.read++;
      if (record.kind === 'unparseable') {
        await this.reject(record, [{ path: '(record)', message: record.error }]);
        continue;
      }
      const result = normalizeRecord(record.value);
      if (!result.ok) {
        await this.reject(record, result.reasons);
        continue;
      }
      const { event } = result;
      const ms = event.event_ts_us / 1000;
      // The source filters on event time too; we clip again so adjacent windows never share an event.
      if (this.window && (ms < this.window.startMs || ms >= this.window.endMs)) {
        this.counts.outOfWindow++;
        continue;
      }
      for (const field of result.driftFields) this.drift[field] = (this.drift[field] ?? 0) + 1;
      this.counts.valid++;
      await this.writer.addEvent(event, eventHash(event), record.location);
    }
  }

  private async reject(record: RawRecord, reasons: RejectReason[]): Promise<void> {
    this.counts.rejected++;
    const text = payloadText(record);
    const { id, tsUs } = identify(record);
    await this.writer.addReject(record.location, sha256Hex(text), text, reasons, id, tsUs);
  }

  /** Flushes the staged files and writes the manifest last, which marks the package complete. */
  async finish(
    runId: string,
    sourceCount: number | null,
    sourceFiles: PackageManifest['sourceFiles'],
  ): Promise<PackageManifest> {
    const files = await this.writer.finish();
    const manifest: PackageManifest = {
      runId,
      window: this.window,
      sourceFiles,
      sourceCount,
      files,
      counts: this.counts,
      drift: this.drift,
    };
    writeManifest(this.dir, manifest);
    return manifest;
  }

  abort(): void {
    this.writer.abort();
  }
}
