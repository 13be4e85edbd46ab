import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/** What a stand-in is made of: an HTTP server on 127.0.0.1 and an in-memory DuckDB behind it. */
export interface ServerParts {
  server: Server;
  db: DuckDBInstance;
  connection: DuckDBConnection;
  url: string;
}

/** The shared frame of the warehouse stand-ins; each answers its own protocol in `handle`. */
export abstract class DuckDBBackedServer {
  protected readonly server: Server;
  protected readonly db: DuckDBInstance;
  protected readonly connection: DuckDBConnection;
  readonly url: string;
  private turn: Promise<unknown> = Promise.resolve();

  protected constructor(parts: ServerParts) {
    ({ server: this.server, db: this.db, connection: this.connection, url: this.url } = parts);
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** `functions`: macros giving DuckDB the engine's functions we call, with the engine's semantics. */
  protected static async open(functions: string[] = []): Promise<ServerParts> {
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    await connection.run("SET TimeZone = 'UTC'");
    for (const macro of functions) await connection.run(macro);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { server, db, connection, url: `http://127.0.0.1:${port}` };
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /**
   * Runs `work` alone on our one DuckDB connection: clients (several processes, or a run
   * and its lock's heartbeat) send requests at once, and one's statements must never run
   * inside another's transaction.
   */
  protected exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Files the stand-in keeps besides its database, removed on close. */
  protected abstract cleanup(): void;

  protected static async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
    this.connection.closeSync();
    this.db.closeSync();
    this.cleanup();
  }

  /** Runs DuckDB SQL directly, between requests (for test assertions and set-ups). */
  rows(sql: string): Promise<Record<string, unknown>[]> {
    return this.exclusive(() => this.read(sql));
  }

  /** Runs DuckDB SQL directly, from inside a request's own turn. */
  protected async read(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }
}
