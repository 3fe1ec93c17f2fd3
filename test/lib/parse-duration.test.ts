import { describe, expect, it } from 'vitest';
import { BitEnvoyError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/parse-duration.js';

describe('parseDuration', () => {
  it.each([
    [30, 30_000],
    [0.5, 500],
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    [' 2 h ', 7_200_000],
  ] as const)('%j is %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ['ten minutes', 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `ten minutes`'],
    ['10d', 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `10d`'],
    ['0s', 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `0s`'],
    [0, 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `0`'],
    [-5, 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `-5`'],
    [Number.NaN, 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got `NaN`'],
    ['', 'timeout: expected a positive number of seconds or a duration like `90s`, `10m` or `1h`, got ``'],
    ['30', 'timeout: `30` has no unit; write `30s`, `30m` or `30h`'],
  ] as const)('refuses %j', (input, message) => {
    let thrown: unknown;
    try {
      parseDuration(input, 'timeout');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BitEnvoyError);
    expect(thrown).toMatchObject({ code: 'BE_USAGE', message });
  });
});
