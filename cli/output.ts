/**
 * How the CLI prints. Much of what it shows comes from the hub and, through it, from agents (descriptions, step
 * messages, names, error messages): every line goes through {@link stripControls}, so no escape sequence from there
 * reaches the terminal, and JSON through {@link toSafeJson}, which escapes instead of dropping.
 */
import { stripControls, toSafeJson } from '../lib/strip-controls.js';

/** Prints text (one or more lines) on stdout, without control characters. */
export function print(text: string): void {
  process.stdout.write(stripControls(text) + '\n');
}

/** Prints text on stderr, without control characters. */
export function printError(text: string): void {
  process.stderr.write(stripControls(text) + '\n');
}

/** Prints a value as JSON on stdout; characters a terminal acts on are escaped, so nothing is lost. */
export function printJson(value: unknown, indent?: number): void {
  process.stdout.write(toSafeJson(value, indent) + '\n');
}
