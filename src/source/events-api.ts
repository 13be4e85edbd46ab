import type { RawRecord, WindowedSource } from './source.js';
import { describeUrl, getJson, type HttpOptions } from './http.js';

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

  constructor(
    baseUrl: string,
    private readonly pageSize: number,
    private readonly http: HttpOptions,
  ) {
    this.endpoint = new URL('v1/events', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.description = describeUrl(this.endpoint);
  }

  private url(startMs: number, endMs: number, extra: Record<string, string>): URL {
    const url = new URL(this.endpoint);
    url.searchParams.set('since', new Date(startMs).toISOString());
    url.searchParams.set('until', new Date(endMs).toISOString());
    for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
    return url;
  }

  async count(startMs: number, endMs: number): Promise<number> {
    const body = (await getJson(this.url(startMs, endMs, { count: 'true' }), this.http)) as { count?: unknown };
    if (typeof body?.count !== 'number') throw new Error(`${this.description}?count=true returned no count`);
    return body.count;
  }

  async *pages(startMs: number, endMs: number): AsyncIterable<RawRecord[]> {
    let cursor: string | null = null;
    let pageNumber = 0;
    do {
      pageNumber++;
      const extra: Record<string, string> = { limit: String(this.pageSize) };
      if (cursor) extra.cursor = cursor;
      const page = unwrapPage(await getJson(this.url(startMs, endMs, extra), this.http), this.description);
      yield page.data.map((value, i) => ({
        kind: 'value' as const,
        value,
        location: { source: this.description, ref: `page ${pageNumber} item ${i + 1}` },
      }));
      cursor = page.next;
    } while (cursor);
  }
}
