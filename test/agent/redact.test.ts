import { describe, expect, it } from 'vitest';
import { Redactor, StreamRedactor } from '../../agent/redact.js';
import { bindSecrets } from '../../agent/secrets.js';

describe('redaction', () => {
  const redactor = new Redactor(['hunter22', 's3cr3t-token', 'ab']);

  it('masks every secret in a text, longest first, and ignores values too short to mask', () => {
    expect(redactor.redact('pw=hunter22 token=s3cr3t-token ab')).toBe('pw=*** token=*** ab');
  });

  it('masks a secret split across reads', () => {
    const stream = new StreamRedactor(redactor);
    const out = stream.push('password: hun') + stream.push('ter') + stream.push('22 and s3cr3t-') + stream.push('token\n') + stream.end();
    expect(out).toBe('password: *** and ***\n');
  });

  it('passes text through untouched when there are no secrets', () => {
    const stream = new StreamRedactor(new Redactor([]));
    expect(stream.push('hello') + stream.end()).toBe('hello');
  });
});

describe('secret references', () => {
  const secrets = new Map([['DB_URL', 'postgres://u:pw@db/x']]);
  it('turns references in run into variables and substitutes env values', () => {
    const bound = bindSecrets({ name: 'migrate', run: './migrate --url "${{ secrets.DB_URL }}"', env: { DATABASE_URL: '${{secrets.DB_URL}}' } }, secrets, 'secrets.yml');
    expect(bound.run).toBe('./migrate --url "${BITENVOY_SECRET_DB_URL}"');
    expect(bound.env).toEqual({ BITENVOY_SECRET_DB_URL: 'postgres://u:pw@db/x', DATABASE_URL: 'postgres://u:pw@db/x' });
  });

  it('refuses a reference to a secret this server does not have', () => {
    expect(() => bindSecrets({ name: 'migrate', run: 'echo ${{ secrets.NOPE }}' }, secrets, '/srv/agent/secrets.yml')).toThrow(
      'step `migrate` uses secrets.NOPE, which is not in /srv/agent/secrets.yml; add `NOPE: …` there on this server',
    );
  });

  it('quotes the expansion for where the reference stands, so a value stays one word', () => {
    const run = (text: string) => bindSecrets({ name: 's', run: text }, new Map([['X', 'v a l']]), 'secrets.yml').run;
    expect(run('cmd ${{ secrets.X }}')).toBe('cmd "${BITENVOY_SECRET_X}"');
    expect(run('cmd "a ${{ secrets.X }} b"')).toBe('cmd "a ${BITENVOY_SECRET_X} b"');
    expect(run("cmd 'a ${{ secrets.X }}'")).toBe(`cmd 'a '"\${BITENVOY_SECRET_X}"''`);
    expect(run('echo "it\\"s" ${{ secrets.X }}')).toBe('echo "it\\"s" "${BITENVOY_SECRET_X}"');
    expect(run("# don't\ncmd ${{ secrets.X }}")).toBe("# don't\ncmd \"${BITENVOY_SECRET_X}\"");
    expect(run('cat <<EOF > f\nkey: ${{ secrets.X }}\nEOF\ncmd ${{ secrets.X }}')).toBe('cat <<EOF > f\nkey: ${BITENVOY_SECRET_X}\nEOF\ncmd "${BITENVOY_SECRET_X}"');
  });

  it('gives a step only the secrets it references', () => {
    const bound = bindSecrets({ name: 's', run: 'echo ${{ secrets.A }}' }, new Map([['A', 'aaa'], ['B', 'bbb']]), 'secrets.yml');
    expect(bound.env).toEqual({ BITENVOY_SECRET_A: 'aaa' });
  });
});

describe('redaction of every secret in streamed output', () => {
  it('masks values in one chunk, across chunk boundaries at every split point, and several in a row', () => {
    const redactor = new Redactor(['alpha-secret', 'beta-9876']);
    const text = 'a=alpha-secret b=beta-9876 alpha-secretbeta-9876 end\n';
    for (let cut = 1; cut < text.length; cut++) {
      const stream = new StreamRedactor(redactor);
      expect(stream.push(text.slice(0, cut)) + stream.push(text.slice(cut)) + stream.end()).toBe('a=*** b=*** ****** end\n');
    }
  });
});

describe('multi-line secrets', () => {
  it('masks each line of a multi-line value on its own too, so printing a key line by line shows none of it', () => {
    const key = '-----BEGIN KEY-----\nMIIEabc123\nQWERTY789\r\n-----END KEY-----';
    const redactor = new Redactor([key]);
    expect(redactor.redact(`whole: ${key}\n`)).toBe('whole: ***\n');
    expect(redactor.redact('line 2: MIIEabc123, line 3: QWERTY789\n')).toBe('line 2: ***, line 3: ***\n');
  });
});

describe('stream redaction holds back only what may be the start of a secret', () => {
  it('passes text on at once unless it ends with the start of a secret, and then only that start', () => {
    const stream = new StreamRedactor(new Redactor(['hunter22-long-secret-value']));
    expect(stream.push('checked out abc1234 into /srv/releases/job_1_0_9cf35b7c0123b453\n')).toBe('checked out abc1234 into /srv/releases/job_1_0_9cf35b7c0123b453\n');
    expect(stream.push('build done')).toBe('build done');
    expect(stream.push('pass: hunt')).toBe('pass: ');
    expect(stream.push('er22-long-secret-value!')).toBe('***!');
    expect(stream.push('progress: hu')).toBe('progress: ');
    expect(stream.push('mble')).toBe('humble');
    expect(stream.push('h')).toBe('');
    expect(stream.end()).toBe('h');
  });

  it('masks overlapping secrets as one span, so no part of either shows', () => {
    const redactor = new Redactor(['abcxy', 'xyz12345']);
    expect(redactor.redact('<abcxyz12345>')).toBe('<***>');
    const stream = new StreamRedactor(redactor);
    expect(stream.push('<abcxy') + stream.push('z12345>') + stream.end()).toBe('<***>');
  });

  it('sends exactly what redacting the whole output at once gives, however the output is cut (random texts and cuts)', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const secrets = ['abab-secret', 'secret-tail', 'aaaa', 'xyz\n123', 'tok-5f3c9a'];
    const redactor = new Redactor(secrets);
    const pieces = [...secrets, 'ab', 'a', 'sec', 'tok-', '\n', 'xyz', '123', ' text ', '-', 'z'];
    for (let round = 0; round < 2000; round++) {
      const text = Array.from({ length: 1 + random(12) }, () => pieces[random(pieces.length)]).join('');
      const stream = new StreamRedactor(redactor);
      let sent = '';
      for (let at = 0; at < text.length; ) {
        const next = Math.min(text.length, at + 1 + random(8));
        sent += stream.push(text.slice(at, next));
        at = next;
      }
      sent += stream.end();
      expect(sent, JSON.stringify(text)).toBe(redactor.redact(text));
      for (const value of redactor.values) expect(sent).not.toContain(value);
    }
  });
});
