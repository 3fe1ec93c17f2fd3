/**
 * Checks GitHub REST requests against GitHub's published OpenAPI description (`@octokit/openapi`): the method and
 * path must be an operation GitHub has, the JSON body must match the operation's request schema. A test that makes
 * a request GitHub would refuse (an unknown status state, a description over 140 characters, a missing required
 * field) or quietly misread (a query parameter it does not have) fails here even though nock would have answered it.
 *
 * @example
 * const github = await loadGitHubContract('api.github.com');
 * expect(github.problems('POST', '/repos/o/r/deployments/1/statuses', { state: 'success' })).toEqual([]);
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';

/** The descriptions checked: github.com and one GitHub Enterprise Server version. */
export type GitHubFlavour = 'api.github.com' | 'ghes-3.19';

interface Operation {
  requestBody?: { content?: Record<string, { schema?: unknown }>; required?: boolean };
  parameters?: unknown[];
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> } | { $ref: string }>;
}

interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string; enum?: unknown[]; format?: string };
}

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
}

export interface GitHubContract {
  flavour: GitHubFlavour;
  /** Every reason GitHub would refuse this request; empty when it conforms. */
  problems(method: string, path: string, body?: unknown): string[];
  /**
   * Every way this answer differs from the one GitHub describes for the operation and status (a JSON body against
   * the response schema); empty when it conforms or the description has no schema for that status.
   */
  responseProblems(method: string, path: string, status: number, body: unknown): string[];
}

const cache = new Map<GitHubFlavour, Promise<GitHubContract>>();

export function loadGitHubContract(flavour: GitHubFlavour): Promise<GitHubContract> {
  let loaded = cache.get(flavour);
  if (!loaded) {
    loaded = load(flavour);
    cache.set(flavour, loaded);
  }
  return loaded;
}

async function load(flavour: GitHubFlavour): Promise<GitHubContract> {
  // Only the one description file: the package's index would load all of them (hundreds of MB).
  const pkg = createRequire(import.meta.url).resolve('@octokit/openapi/package.json');
  const spec = JSON.parse(await readFile(join(dirname(pkg), 'generated', `${flavour}.json`), 'utf8')) as Spec;
  const routes = Object.keys(spec.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}|\{[^}]+\}/g, '[^/]+')}$`),
    literal: template.replace(/\{[^}]+\}/g, '').length,
  }));
  const ajv = new Ajv({ allErrors: true, strict: false });
  (formatsPlugin as unknown as (a: Ajv) => void)(ajv);
  const validators = new Map<string, ValidateFunction>();

  // The most literal template wins: /repos/{o}/{r}/deployments beats /repos/{o}/{r}/{x}.
  const routeOf = (rawPath: string) => {
    const path = rawPath.split('?')[0]!.replace(/^\/api\/v3(?=\/)/, '');
    return { path, route: routes.filter((r) => r.pattern.test(path)).sort((a, b) => b.literal - a.literal)[0] };
  };
  const validatorFor = (key: string, schema: unknown) => {
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(deref(schema, spec) as object);
      validators.set(key, validate);
    }
    return validate;
  };

  return {
    flavour,
    responseProblems(method, rawPath, status, body) {
      const { route } = routeOf(rawPath);
      const response = route ? deref(spec.paths[route.template]![method.toLowerCase()]?.responses?.[String(status)], spec) : undefined;
      const schema = (response as Operation['requestBody'])?.content?.['application/json']?.schema;
      if (!route || schema === undefined) return [];
      const key = `${method} ${route.template} → ${status}`;
      const validate = validatorFor(key, schema);
      return validate(body) ? [] : (validate.errors ?? []).map((e) => `${flavour}: ${key}: answer${e.instancePath} ${e.message}`);
    },
    problems(method, rawPath, body) {
      const { path, route } = routeOf(rawPath);
      if (!route) return [`${flavour}: no operation for path ${path}`];
      const operation = spec.paths[route.template]![method.toLowerCase()];
      if (!operation) return [`${flavour}: ${method.toUpperCase()} is not allowed on ${route.template}`];
      const query = queryProblems(flavour, `${method.toUpperCase()} ${route.template}`, new URLSearchParams(rawPath.split('?')[1] ?? ''), operation, spec);
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      if (body === undefined || schema === undefined) {
        return [...query, ...(operation.requestBody?.required && body === undefined ? [`${flavour}: ${method} ${route.template} needs a JSON body`] : [])];
      }
      const key = `${method} ${route.template}`;
      const validate = validatorFor(key, schema);
      if (validate(body)) return query;
      return [...query, ...(validate.errors ?? []).map((e) => `${flavour}: ${key}: body${e.instancePath} ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`)];
    },
  };
}

/**
 * A query parameter GitHub does not have is ignored without a word (a misspelt `environment=` lists every
 * deployment): each must be one the operation declares, with a value of its type.
 */
function queryProblems(flavour: GitHubFlavour, key: string, query: URLSearchParams, operation: Operation, spec: Spec): string[] {
  const declared = new Map(
    (operation.parameters ?? [])
      .map((p) => deref(p, spec) as Parameter)
      .filter((p) => p.in === 'query')
      .map((p) => [p.name, p] as const),
  );
  const problems: string[] = [];
  for (const [name, value] of query) {
    const parameter = declared.get(name);
    if (!parameter) {
      problems.push(`${flavour}: ${key}: no query parameter \`${name}\` (it has ${[...declared.keys()].join(', ') || 'none'})`);
      continue;
    }
    const schema = parameter.schema ?? {};
    if (schema.type === 'integer' && !/^-?\d+$/.test(value)) problems.push(`${flavour}: ${key}: query \`${name}\` must be an integer, got ${value}`);
    if (schema.enum && !schema.enum.includes(value)) problems.push(`${flavour}: ${key}: query \`${name}\` must be one of ${schema.enum.join(', ')}, got ${value}`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) problems.push(`${flavour}: ${key}: query \`${name}\` must be an ISO 8601 time, got ${value}`);
  }
  return problems;
}

/** Inlines `#/components/...` references (request bodies are small and acyclic in practice; cycles stop at depth 20). */
function deref(node: unknown, spec: Spec, depth = 0): unknown {
  if (depth > 20 || node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((n) => deref(n, spec, depth + 1));
  const ref = (node as { $ref?: string }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((acc, seg) => (acc as Record<string, unknown>)?.[seg], spec);
    return deref(target, spec, depth + 1);
  }
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, spec, depth + 1)])) as Record<string, unknown>;
  // Some limits GitHub enforces are stated only in the prose of the description ("The maximum description length
  // is 140 characters."): read them from there too.
  const limit = typeof out.description === 'string' ? /maximum [\w ]*length is (\d+) characters/i.exec(out.description) : null;
  if (limit && out.type === 'string' && out.maxLength === undefined) out.maxLength = Number(limit[1]);
  return out;
}
