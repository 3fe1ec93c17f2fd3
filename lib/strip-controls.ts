/**
 * Terminal-safe text. What the hub and agents send (deployment descriptions, step messages, agent names, error
 * messages, log lines) is not ours: a rogue agent can put escape sequences in its failure text so that a terminal
 * erases a line and shows a faked "✔ success" instead. Everything printed from such a source goes through
 * {@link stripControls} first; JSON output goes through {@link toSafeJson}, which keeps every character but escapes
 * the ones a terminal would act on.
 */

// ECMA-48 escape sequences, 7-bit (ESC …) and 8-bit (C1 introducers), removed whole so their parameters do not
// show up as junk: control strings (OSC, DCS, SOS, PM, APC) up to their terminator; CSI with its parameters; and
// the two-character escapes (ESC 7, ESC c, ESC ( B …).
const ESCAPE_SEQUENCES = new RegExp(
  [
    '(?:\\u001b[\\]PX^_]|[\\u0090\\u0098\\u009d-\\u009f])[\\s\\S]*?(?:\\u0007|\\u001b\\\\|\\u009c)',
    '(?:\\u001b\\[|\\u009b)[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]',
    '\\u001b[\\u0020-\\u002f]*[\\u0030-\\u007e]',
  ].join('|'),
  'g',
);

// Whatever control is left: C0 but tab and newline, DEL, C1; and the bidirectional overrides and isolates that
// reorder how a line is shown (the "Trojan Source" trick).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Removes C0/C1 control characters and ANSI/ECMA-48 escape sequences, keeping `\n` and `\t`, and the bidirectional
 * override characters. Plain text passes unchanged.
 *
 * @example
 * stripControls('step failed\u001b[2K\r✔ success'); // 'step failed✔ success'
 */
export function stripControls(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replace(CONTROLS, '');
}

/**
 * {@link stripControls}, and newlines and tabs become spaces: for a value shown inside one line of ours (a name, a
 * state, a message after "—"), so that it cannot start a line that looks like one of ours.
 *
 * @example
 * oneLine('failed\n✔ deployment succeeded'); // 'failed ✔ deployment succeeded'
 */
export function oneLine(text: string): string {
  return stripControls(text).replace(/[\t\n]+/g, ' ');
}

// JSON.stringify already escapes C0; these are the characters it leaves raw that a terminal may still act on.
const RAW_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify` whose output holds no character a terminal acts on: the same value once parsed, nothing lost.
 *
 * @example
 * toSafeJson({ message: 'a\u009b2Kb' }); // '{"message":"a\\u009b2Kb"}'
 */
export function toSafeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
