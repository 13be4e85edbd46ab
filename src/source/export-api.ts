import { mkdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExportSettings } from '../config/schema.js';
import { EventsApiSource } from './events-api.js';
import { readSourceFile } from './files.js';
import { pathInside } from '../util/safe-path.js';
import { describeUrl, downloadTo, getJson, postJson, type HttpOptions } from './http.js';
import type { RawRecord, WindowedSource } from './source.js';

const DONE = new Set(['completed', 'complete', 'ready', 'done', 'succeeded']);
const FAILED = new Set(['failed', 'error', 'cancelled', 'expired']);

/**
 * The Export API for bulk history: one export job per window (`POST
 * /v1/exports`), polled until ready, downloaded to disk (streamed, bounded
 * memory) and read like a file. Counts come from the Events API.
 */
export class ExportApiSource implements WindowedSource {
  readonly description: string;
  private readonly exportsUrl: URL;
  private readonly counter: EventsApiSource;

  constructor(
    baseUrl: string,
    private readonly http: HttpOptions,
    private readonly settings: ExportSettings,
    private readonly downloadDir: string,
    private readonly maxRecordBytes: number,
  ) {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    this.exportsUrl = new URL('v1/exports', base);
    this.description = describeUrl(this.exportsUrl);
    this.counter = new EventsApiSource(baseUrl, 1, http);
  }

  count(startMs: number, endMs: number): Promise<number> {
    return this.counter.count(startMs, endMs);
  }

  async *pages(startMs: number, endMs: number): AsyncIterable<RawRecord[]> {
    const id = await this.createExport(startMs, endMs);
    // The id comes from the source: it names the download only if it is a plain name.
    const file = pathInside(this.downloadDir, `export-${id}.${this.settings.format}`);
    await this.waitUntilReady(id);
    mkdirSync(this.downloadDir, { recursive: true });
    const bytes = await downloadTo(
      new URL(`${encodeURIComponent(id)}/download`, `${this.exportsUrl}/`),
      file,
      this.http,
      this.settings.timeout,
    );
    this.http.logger.info({ export: id, bytes }, 'export downloaded');
    try {
      for await (const batch of readSourceFile(file, this.maxRecordBytes)) {
        // The download's temporary path is meaningless later: rejects name the export instead.
        yield batch.map((record) => ({
          ...record,
          location: { source: this.description, ref: `export ${id} ${record.location.ref}` },
        }));
      }
    } finally {
      rmSync(file, { force: true });
    }
  }

  private async createExport(startMs: number, endMs: number): Promise<string> {
    const body = {
      type: 'events',
      format: this.settings.format,
      compression: this.settings.compression,
      filter: { start_time: new Date(startMs).toISOString(), end_time: new Date(endMs).toISOString() },
    };
    const job = (await postJson(this.exportsUrl, body, this.http)) as { id?: unknown };
    if (typeof job?.id !== 'string' && typeof job?.id !== 'number') {
      throw new Error(`${this.description} did not return an export id`);
    }
    return String(job.id);
  }

  private async waitUntilReady(id: string): Promise<void> {
    const url = new URL(encodeURIComponent(id), `${this.exportsUrl}/`);
    const deadline = Date.now() + this.settings.timeout;
    for (;;) {
      const job = (await getJson(url, this.http)) as { status?: unknown; error?: unknown };
      const status = String(job?.status ?? '').toLowerCase();
      if (DONE.has(status)) return;
      if (FAILED.has(status)) throw new Error(`export ${id} ${status}: ${String(job.error ?? 'no reason given')}`);
      if (Date.now() > deadline) throw new Error(`export ${id} was not ready within ${this.settings.timeout} ms`);
      await sleep(this.settings.poll_interval);
    }
  }
}
