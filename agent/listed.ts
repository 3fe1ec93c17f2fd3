/**
 * Lists and values as refusal messages show them. Refusals quote the owner's allowlists (which may be hundreds of
 * entries long) and values the hub sent (which may be anything), and the hub takes messages of at most 4000
 * characters: a longer one would be refused, and the job would never reach its final state there.
 *
 * @example
 * listed(['a', 'b', 'c'], 2); // 'a, b (+1 more)'
 * listed([]); // 'empty'
 * clipped('x'.repeat(500), 10); // 'xxxxxxxxxx…'
 */
export function listed(items: readonly string[], max = 10): string {
  if (!items.length) return 'empty';
  const shown: string[] = [];
  for (const item of items.slice(0, max)) {
    if (shown.length && shown.join(', ').length + item.length > 300) break;
    shown.push(clipped(item));
  }
  return items.length > shown.length ? `${shown.join(', ')} (+${items.length - shown.length} more)` : shown.join(', ');
}

/** `text` cut to `max` characters, with `…` when something was cut. */
export function clipped(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
