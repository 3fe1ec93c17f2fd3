import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';

describe('createLogger', () => {
  it('never writes credentials of a URL, wherever the URL stands in the line', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ name: 'test', destination, format: 'json' });
    log.info({ from: 'https://deploy:ghp_token1@git.example.com/a.git' }, 'fetching https://x:ghp_token2@git.example.com/b.git');
    log.error({ err: new Error("fatal: unable to access 'http://u:ghp_token3@127.0.0.1/c.git/'") }, 'git failed');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    expect(text).not.toMatch(/ghp_token/);
    expect(text).toContain('https://***@git.example.com/a.git');
    expect(text).toContain('http://***@127.0.0.1/c.git/');
  });
});
