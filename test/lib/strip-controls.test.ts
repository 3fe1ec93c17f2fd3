import { describe, expect, it } from 'vitest';
import { oneLine, stripControls, toSafeJson } from '../../lib/strip-controls.js';

describe('stripControls', () => {
  it.each([
    ['a faked success line: erase the line, back to its start', 'step build failed\u001b[2K\r✔ success', 'step build failed✔ success'],
    ['cursor up and erase', 'exit 1\u001b[1A\u001b[2K✔ deployed', 'exit 1✔ deployed'],
    ['colours', '\u001b[1;32mgreen\u001b[0m', 'green'],
    ['an OSC 8 hyperlink to elsewhere', '\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007', 'click'],
    ['a window title (OSC ended by ESC \\)', 'x\u001b]0;pwned\u001b\\y', 'xy'],
    ['8-bit CSI', 'a\u009b2Kb', 'ab'],
    ['a DCS string', 'a\u001bPq#0;2;0;0;0\u001b\\b', 'ab'],
    ['terminal reset and charset escapes', 'a\u001bcb\u001b(Bc', 'abc'],
    ['a lone ESC, BEL, backspace, NUL, DEL', 'a\u001b\u0007\u0008\u0000\u007fb', 'ab'],
    ['bidirectional overrides', 'user\u202eexe.txt\u2066x\u2069', 'userexe.txtx'],
    ['carriage returns (CRLF becomes LF)', 'one\r\ntwo\rthree', 'one\ntwothree'],
  ])('removes %s', (_what, input, output) => {
    expect(stripControls(input)).toBe(output);
  });

  it('keeps newlines, tabs and any printable text', () => {
    const text = 'web-1\tok\nÜnïcødé ✔ 日本語 — "quotes" \\ back[slash] {json}';
    expect(stripControls(text)).toBe(text);
  });
});

describe('oneLine', () => {
  it('turns newlines and tabs into spaces, so remote text cannot start a line of its own', () => {
    expect(oneLine('failed\n✔ all servers deployed\t!\u001b[2K')).toBe('failed ✔ all servers deployed !');
  });
});

describe('toSafeJson', () => {
  it('escapes what a terminal acts on and loses nothing', () => {
    const value = { message: 'a\u001b[2K\r✔ b\u009b2K\u202ec', n: 1 };
    const json = toSafeJson(value, 2);
    expect([...json].filter((c) => c !== '\n' && (c < ' ' || (c >= '\u007f' && c <= '\u009f') || (c >= '\u202a' && c <= '\u202e')))).toEqual([]);
    expect(json).toContain('\\u009b');
    expect(JSON.parse(json)).toEqual(value);
  });
});
