import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './workspace.js';

/** README.md as lines, for the tests that hold it to what the CLI does. */
export function readmeLines(): string[] {
  return readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');
}

/** The README's lines from a heading (e.g. `## Engines: ...`) to its end. */
export function readmeFrom(heading: string): string[] {
  const lines = readmeLines();
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  return lines.slice(start);
}

/** A README line with its 1-based number, for messages that point at it. */
export interface ReadmeLine {
  line: number;
  text: string;
}

/** Every line inside a fenced code block, and every inline code span outside them. */
export function readmeCode(): { blockLines: ReadmeLine[]; spans: ReadmeLine[] } {
  const blockLines: ReadmeLine[] = [];
  const spans: ReadmeLine[] = [];
  let fenced = false;
  readmeLines().forEach((text, i) => {
    if (text.trimStart().startsWith('```')) fenced = !fenced;
    else if (fenced) blockLines.push({ line: i + 1, text });
    else for (const [, span] of text.matchAll(/`([^`]+)`/g)) spans.push({ line: i + 1, text: span! });
  });
  return { blockLines, spans };
}
