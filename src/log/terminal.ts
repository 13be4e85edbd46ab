import { Writable } from 'node:stream';

/**
 * stderr on a terminal, shared by the log and the progress line: log lines
 * scroll above, and the one progress line is redrawn below them after each,
 * so the two never share a line (a line written while the progress line is
 * up would otherwise start in the middle of it).
 */
export class TerminalLines {
  private status = '';

  constructor(private readonly stream: NodeJS.WritableStream) {}

  /** Log text (whole lines): the progress line is cleared first and redrawn after. */
  log(text: string): void {
    this.stream.write(this.status ? `\r\x1b[2K${text}${this.status}` : text);
  }

  /** Replaces the progress line. */
  progress(line: string): void {
    this.status = line;
    this.stream.write(`\r\x1b[2K${line}`);
  }

  /** Leaves the last progress line on screen and moves below it. */
  end(): void {
    if (this.status === '') return;
    this.status = '';
    this.stream.write('\n');
  }

  /** A stream for the log's writer (pino-pretty), writing through `log`. */
  logStream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.log(chunk.toString());
        done();
      },
    });
  }
}

/** The process's stderr when it is a terminal, else undefined (JSON log lines, no progress line). */
export const stderrLines: TerminalLines | undefined = process.stderr.isTTY
  ? new TerminalLines(process.stderr)
  : undefined;
