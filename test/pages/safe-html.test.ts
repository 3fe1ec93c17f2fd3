import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../app/pages/html.js';
import { html, safeHref, SafeHtml, trustedHtml } from '../../app/pages/safe-html.js';

const HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='x", '&lt;already&gt;', '</textarea><svg/onload=alert(1)>'];

describe('html, the escaped-by-default template', () => {
  it('escapes every interpolated value, whatever its type or position', () => {
    for (const bad of HOSTILE) {
      const out = html`<p title="${bad}">${bad}</p><ul>${[bad, [bad]].map((b) => html`<li>${b}</li>`)}</ul>${{ toString: () => bad }}`.toString();
      // Only the template's own markup is markup: the hostile text never opens or closes a tag or an attribute.
      expect(out.replace(/<\/?(p|ul|li)( title="[^"<>]*")?>/g, '')).not.toMatch(/[<>"']/);
      expect(out).toContain(`<li>${escapeHtml(bad)}</li>`);
    }
  });

  it('keeps nested templates and trusted constants as markup, once', () => {
    const inner = html`<b>${'a<b'}</b>`;
    expect(html`<p>${inner}</p>`.toString()).toBe('<p><b>a&lt;b</b></p>');
    expect(html`${trustedHtml('<hr>')}`.toString()).toBe('<hr>');
    expect(html`x${undefined}${null}${false}${0}y`.toString()).toBe('x0y');
    expect(html`<p>${'&amp;'}</p>`.toString()).toBe('<p>&amp;amp;</p>');
    expect(inner).toBeInstanceOf(SafeHtml);
  });

  it('takes credentials out of URLs in the text', () => {
    expect(html`${'https://user:s3cret@git.example.com/r.git'}`.toString()).not.toContain('s3cret');
  });
});

describe('safeHref', () => {
  it('lets through paths of this hub and http(s) URLs, and nothing else', () => {
    expect(safeHref('/deployments/dep_1')).toBe('/deployments/dep_1');
    expect(safeHref('https://github.com/acme/shop/commit/abc')).toBe('https://github.com/acme/shop/commit/abc');
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>', '//evil.example/x', '/\\evil.example', 'vbscript:x', ' javascript:alert(1)']) {
      expect(safeHref(bad)).toBe('#');
    }
  });
});
