import { eventHash, sha256Hex, stableStringify } from '../contract/hash.js';
import { normalizeRecord } from '../contract/normalize.js';
import { parseInstantMicros } from '../contract/scalars.js';
import type { RejectReason } from '../contract/event.js';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { StagingWriter, type StagingParts } from './staging-writer.js';
import type { ExtractCounts, StagingFiles } from './package.js';

/** What one stager produced: its Parquet parts, what it counted, and the unknown fields it saw. */
export interface StagedResult {
  files: StagingFiles;
  counts: ExtractCounts;
  drift: Record<string, number>;
}

type Parsed = Exclude<RawRecord, { kind: 'line' }>;

/** A JSON line is parsed here (in a worker when there are workers), not where it was read. */
function parsed(record: RawRecord): Parsed {
  if (record.kind !== 'line') return record;
  try {
    return { kind: 'value', value: JSON.parse(record.text), location: record.location };
  } catch (error) {
    const message = `invalid JSON: ${(error as Error).message}`;
    return { kind: 'unparseable', text: record.text, error: message, location: record.location };
  }
}

function payloadText(record: Parsed): string {
  return record.kind === 'unparseable' ? record.text : stableStringify(record.value);
}

function fieldOf(record: Parsed, field: string): string | null {
  if (record.kind !== 'value' || record.value === null || typeof record.value !== 'object') return null;
  const value = (record.value as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** What a rejected record still tells: its id and its event time, when they are usable. */
function identify(record: Parsed): { id: string | null; tsUs: number | null } {
  const timestamp = fieldOf(record, 'timestamp');
  const tsUs = timestamp === null ? undefined : parseInstantMicros(timestamp);
  return { id: fieldOf(record, 'id')?.slice(0, 256) ?? null, tsUs: tsUs ?? null };
}

/**
 * Validates raw records and stages them: valid events (clipped to the window)
 * to the staging writer, the rest to quarantine with their reasons. Nothing is
 * dropped silently. Runs in the main thread or in an extract worker.
 */
export class RecordStager {
  readonly counts: ExtractCounts = { read: 0, valid: 0, rejected: 0, outOfWindow: 0 };
  readonly drift: Record<string, number> = {};

  private constructor(
    private readonly writer: StagingWriter,
    private readonly window: TimeWindow | null,
  ) {}

  static async create(
    dir: string,
    window: TimeWindow | null,
    memoryLimit: string,
    parts?: StagingParts,
  ): Promise<RecordStager> {
    return new RecordStager(await StagingWriter.create(dir, memoryLimit, parts), window);
  }

  async add(records: readonly RawRecord[]): Promise<void> {
    for (const raw of records) {
      this.counts.read++;
      const record = parsed(raw);
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
      await this.writer.addEvent(event, eventHash(event));
    }
  }

  private async reject(record: Parsed, reasons: RejectReason[]): Promise<void> {
    this.counts.rejected++;
    const text = payloadText(record);
    const { id, tsUs } = identify(record);
    await this.writer.addReject(record.location, sha256Hex(text), text, reasons, id, tsUs);
  }

  /** Writes out what is buffered and closes the writer. */
  async finish(): Promise<StagedResult> {
    return { files: await this.writer.finish(), counts: this.counts, drift: this.drift };
  }

  abort(): void {
    this.writer.abort();
  }
}
