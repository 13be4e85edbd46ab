import type { RawRecord, WindowedSource } from './source.js';
import { CursorExpiredError, describeUrl, getJson, getJsonDated, type HttpOptions } from './http.js';

const MAX_WINDOW_RESTARTS = 5;

/** The vendor documents three page shapes; all are accepted. */
function unwrapPage(body: unknown, where: string): { data: unknown[]; next: string | null } {
  if (Array.isArray(body)) return { data: body, next: null };
  if (body !== null && typeof body === 'object') {
    const page = body as { data?: unknown; events?: unknown; next_cursor?: unknown };
    const data = Array.isArray(page.data) ? page.data : Array.isArray(page.events) ? page.events : undefined;
    if (data) return { data, next: typeof page.next_cursor === 'string' && page.next_cursor ? page.next_cursor : null };
  }
  throw new Error(`${where} returned a page without a data array`);
}

/** The Events API: `GET /v1/events?since&until&limit&cursor`, and `count=true`. */
export class EventsApiSource implements WindowedSource {
  readonly description: string;
  private readonly endpoint: URL;

  /** `description` names the source in rejects; it defaults to the endpoint URL (without query or token). */
  constructor(
    baseUrl: string,
    private readonly pageSize: number,
    private readonly http: HttpOptions,
    description?: string,
  ) {
    this.endpoint = new URL('v1/events', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.description = description ?? describeUrl(this.endpoint);
  }

  private url(startMs: number, endMs: number, extra: Record<string, string>): URL {
    const url = new URL(this.endpoint);
    url.searchParams.set('since', new Date(startMs).toISOString());
    url.searchParams.set('until', new Date(endMs).toISOString());
    for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
    return url;
  }

  async count(startMs: number, endMs: number): Promise<number> {
    return (await this.countWithClock(startMs, endMs)).count;
  }

  /** The count, and the source's clock from the same answer (`aetl doctor` measures clock skew with it). */
  async countWithClock(
    startMs: number,
    endMs: number,
  ): Promise<{ count: number; sourceMs: number | undefined; localMs: number }> {
    const answer = await getJsonDated(this.url(startMs, endMs, { count: 'true' }), this.http);
    const body = answer.body as { count?: unknown };
    if (typeof body?.count !== 'number') throw new Error(`${this.description}?count=true returned no count`);
    return { count: body.count, sourceMs: answer.sourceMs, localMs: answer.localMs };
  }

  /**
   * Every page of the window. An expired cursor (410) restarts the window
   * from its start: records already yielded come again and are counted as
   * in-batch duplicates by the load, never loaded twice.
   */
  async *pages(startMs: number, endMs: number): AsyncIterable<RawRecord[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        yield* this.pagesOnce(startMs, endMs, attempt);
        return;
      } catch (error) {
        if (!(error instanceof CursorExpiredError) || attempt > MAX_WINDOW_RESTARTS) throw error;
        this.http.logger.warn(
          { attempt, err: error.message },
          'cursor expired; reading the window again from its start',
        );
      }
    }
  }

  private async *pagesOnce(startMs: number, endMs: number, attempt: number): AsyncIterable<RawRecord[]> {
    let cursor: string | null = null;
    let pageNumber = 0;
    const pass = attempt > 1 ? ` (pass ${attempt})` : '';
    do {
      pageNumber++;
      const extra: Record<string, string> = { limit: String(this.pageSize) };
      if (cursor) extra.cursor = cursor;
      const page = unwrapPage(await getJson(this.url(startMs, endMs, extra), this.http), this.description);
      yield page.data.map((value, i) => ({
        kind: 'value' as const,
        value,
        location: { source: this.description, ref: `page ${pageNumber} item ${i + 1}${pass}` },
      }));
      cursor = page.next;
    } while (cursor);
  }
}
