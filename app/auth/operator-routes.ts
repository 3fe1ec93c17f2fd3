/**
 * Named local operators through the admin API (`Authorization: Bearer <admin token>`), for `bitenvoy hub user`:
 * `POST /api/v1/operators {name}` makes one (or keeps it) and answers a new one-time sign-in link, `GET
 * /api/v1/operators` lists them, `DELETE /api/v1/operators/:name` removes one and so ends their sessions.
 *
 * @example
 * koa.use(operatorRoutes({ store, adminToken, guesses, publicUrl: () => publicUrl }).routes());
 */
import { Router } from '@koa/router';
import { BitEnvoyError } from '../../lib/errors.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { adminAuth } from '../api/admin-routes.js';
import type { GuessLimiter } from '../api/guess-limiter.js';
import { readJsonBody } from '../api/read-json-body.js';
import { validateBody } from '../api/validate-body.js';
import { recordAudit } from '../audit/audit-log.js';
import type { Store } from '../store/store.js';
import { createOperator, listOperators, removeOperator } from './operators.js';

const operatorBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 39 }, ttlSeconds: { type: 'integer', minimum: 60, maximum: 7 * 86_400 } },
} as const;

export function operatorRoutes(deps: { store: Store; adminToken: string; guesses: GuessLimiter; publicUrl: () => string }): Router {
  const router = new Router({ prefix: `${ADMIN_API_PREFIX}/operators` });
  router.use(adminAuth(deps.adminToken, deps.guesses));

  router.post('/', async (ctx) => {
    const req = validateBody<{ name: string; ttlSeconds?: number }>(operatorBody, await readJsonBody(ctx.req, 4096));
    const made = await createOperator(deps.store, req.name, { createdBy: 'admin', ...(req.ttlSeconds ? { ttlMs: req.ttlSeconds * 1000 } : {}) });
    await recordAudit(deps.store, { actor: 'admin', action: 'operator-create', repository: '', outcome: made.existed ? 'new-link' : 'created', detail: made.operator.name });
    ctx.status = made.existed ? 200 : 201;
    ctx.body = { name: made.operator.name, existed: made.existed, link: `${deps.publicUrl()}/login/link?token=${made.token}`, expiresAt: made.expiresAt };
  });

  router.get('/', async (ctx) => {
    ctx.body = { operators: (await listOperators(deps.store)).map(({ name, createdAt, createdBy }) => ({ name, createdAt, createdBy })) };
  });

  router.delete('/:name', async (ctx) => {
    const name = ctx.params.name!;
    if (!(await removeOperator(deps.store, name))) throw new BitEnvoyError('BE_NOT_FOUND', `no operator ${name}; \`bitenvoy hub user list\` shows them`);
    await recordAudit(deps.store, { actor: 'admin', action: 'operator-remove', repository: '', outcome: 'removed', detail: name });
    ctx.body = { name, removed: true };
  });

  return router;
}
