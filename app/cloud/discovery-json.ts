/**
 * Typed reads of provider JSON. The GCP and Azure listings are parsed as `unknown` and read field by field through
 * these, so a field that is missing or of another type reads as absent instead of crashing a listing or letting a
 * wrong type through as a label.
 *
 * @example
 * stringAt(vm, 'properties', 'hardwareProfile', 'vmSize'); // 'Standard_D2s_v5' or undefined
 */

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined as soon as a step is not an object. */
function valueAt(from: unknown, path: string[]): unknown {
  let cursor = from;
  for (const key of path) {
    if (!isJsonObject(cursor) || !Object.hasOwn(cursor, key)) return undefined;
    cursor = cursor[key];
  }
  return cursor;
}

export function objectAt(from: unknown, ...path: string[]): JsonObject | undefined {
  const value = valueAt(from, path);
  return isJsonObject(value) ? value : undefined;
}

export function stringAt(from: unknown, ...path: string[]): string | undefined {
  const value = valueAt(from, path);
  return typeof value === 'string' ? value : undefined;
}

export function booleanAt(from: unknown, ...path: string[]): boolean | undefined {
  const value = valueAt(from, path);
  return typeof value === 'boolean' ? value : undefined;
}

/** The objects of the array at `path` (other entries dropped); empty when there is no array. */
export function objectsAt(from: unknown, ...path: string[]): JsonObject[] {
  const value = valueAt(from, path);
  return Array.isArray(value) ? value.filter(isJsonObject) : [];
}

export function stringsAt(from: unknown, ...path: string[]): string[] {
  const value = valueAt(from, path);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * A string-to-string map such as tags or labels; keys are kept exactly as they came, non-string values dropped.
 * Built with `Object.fromEntries` so that even a key like `__proto__` stays an ordinary key.
 */
export function stringMapAt(from: unknown, ...path: string[]): Record<string, string> {
  const entries = Object.entries(objectAt(from, ...path) ?? {});
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
