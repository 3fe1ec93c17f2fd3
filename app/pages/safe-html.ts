/**
 * HTML that is safe by construction: the `html` tag escapes every interpolated value unless it is itself `SafeHtml`
 * (the result of another `html` template, or of `trustedHtml` for a constant of ours). Arrays render item by item
 * under the same rule; `undefined`, `null` and `false` render as nothing, so `${cond && html`…`}` reads naturally.
 * Escaping (escapeHtml) also takes credentials out of URLs in the text. Attribute values must be quoted: the escape
 * covers `"` and `'`, not spaces. A link's target goes through `safeHref`, which refuses `javascript:` and the like.
 *
 * @example
 * const row = (d: Deployment) => html`<tr><td><a href="${safeHref(`/deployments/${d.id}`)}">${d.id}</a></td><td>${d.description}</td></tr>`;
 * ctx.body = html`<table>${deployments.map(row)}</table>`.toString();
 */
import { escapeHtml } from './html.js';

export class SafeHtml {
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  toString(): string {
    return this.#text;
  }
}

/** What may be interpolated: anything (escaped), or markup already safe, or lists of those. */
export type HtmlValue = unknown;

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Markup that is ours (a constant, an icon): never pass anything a person, an agent or GitHub wrote. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * A link target for an `href`: a path on this hub (`/…`, not `//…`) or an http(s) URL; anything else — `javascript:`,
 * `data:`, a scheme-relative URL — becomes `#`, so a value from a config or a webhook cannot run script when clicked.
 */
export function safeHref(target: string): string {
  if (target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')) return target;
  try {
    const url = new URL(target);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '#';
  } catch {
    return '#';
  }
}
