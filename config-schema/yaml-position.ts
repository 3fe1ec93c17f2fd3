/**
 * Finds where a value sits in a YAML text, so every issue can name a line and column. Paths are the segments of a
 * JSON pointer (`['environments', 'staging', 'group']`); a segment that does not exist stops the walk at the
 * nearest existing parent, which is still the best place to point a person at.
 *
 * @example
 * positionOf('a:\n  b: 1\n', ['a', 'b']); // { line: 2, column: 6 }
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

/**
 * The node at `segments` under `root`. With `key`, the key node of that entry in the mapping reached (an unknown
 * key is best shown where it is written, not where its value is).
 */
export function nodeAt(root: unknown, segments: string[], key?: string): Node | undefined {
  let node = root as Node | undefined;
  const path = key === undefined ? segments : [...segments, key];
  for (const [index, seg] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return node;
      const wantKey = key !== undefined && index === path.length - 1;
      node = (wantKey ? pair.key : pair.value) as Node | undefined;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return node;
}

/** The 1-based line and column of a character offset, or nothing when the offset is unknown. */
export function linePosition(lineCounter: LineCounter, offset: number | undefined): { line?: number; column?: number } {
  if (offset === undefined) return {};
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** The 1-based line and column of the value at `segments` in a YAML text (for checks made after the schema's). */
export function positionOf(text: string, segments: string[]): { line?: number; column?: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return linePosition(lineCounter, nodeAt(doc.contents, segments)?.range?.[0]);
}

/** `['steps', '0', 'timeout']` → `steps[0].timeout`: how people write paths into YAML. */
export function dottedPath(segments: string[]): string {
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}
