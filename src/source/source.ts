import type { RecordLocation } from '../contract/event.js';

/** One record as read from a source, before validation. */
export type RawRecord =
  | { kind: 'value'; value: unknown; location: RecordLocation }
  /** One JSON line, parsed later by whoever validates it (an extract worker when there are workers). */
  | { kind: 'line'; text: string; location: RecordLocation }
  /** The bytes could not be parsed at all (bad JSON line, wrong CSV width): kept as text for quarantine. */
  | { kind: 'unparseable'; text: string; error: string; location: RecordLocation; bytes?: ReadBytes };

/** A line's bytes as read, when `text` is not them: not UTF-8 (shown with U+FFFD), or only their start. */
export interface ReadBytes {
  length: number;
  sha256: string;
  /** `text` holds only the first bytes: the line was too large to hold whole. */
  partial: boolean;
}

/** A time-windowed source (Events API, simulator): pages of records in `[start, end)`. */
export interface WindowedSource {
  /** Where records come from, without credentials; used as the reject location. */
  readonly description: string;
  count(startMs: number, endMs: number): Promise<number>;
  pages(startMs: number, endMs: number): AsyncIterable<RawRecord[]>;
}
