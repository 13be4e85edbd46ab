import { isAbsolute, join, relative } from 'node:path';

/** A path segment we build from data or from a source (a table, `event_date=…`, an export id): no separators, no dots first. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.=-]{0,200}$/;

/**
 * `root/segment/…`, refusing any segment that could leave the root (`..`, a
 * separator, an absolute path, odd characters): every path derived from data
 * (lake partitions, archives, export downloads) is built here.
 */
export function pathInside(root: string, ...segments: string[]): string {
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment.includes('..')) {
      throw new Error(`refusing the path segment ${JSON.stringify(segment)} under ${root}: not a plain name`);
    }
  }
  const path = join(root, ...segments);
  const inside = relative(root, path);
  if (inside.startsWith('..') || isAbsolute(inside)) throw new Error(`refusing ${path}: outside ${root}`);
  return path;
}
