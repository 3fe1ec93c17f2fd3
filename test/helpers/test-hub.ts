/**
 * A real hub in the test process (real SQLite file — or PostgreSQL with `BITENVOY_DATABASE_URL` in `env` — real
 * config repo over real git HTTP), plus helpers to enroll agents and call the APIs with fetch.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { startHub, type RunningHub } from '../../app/hub.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { openStore } from '../../app/store/open-store.js';
import { silentLogger } from '../../lib/logger.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo } from '../../testbed/git-repos.js';
import { readWholeDeployment, type WholeDeployment } from '../../testbed/read-whole-deployment.js';
import { SAMPLE_REPOSITORY, sampleAppFiles, sampleConfigFiles } from '../../testbed/sample-app.js';

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestHub {
  url: string;
  hub: RunningHub;
  git: GitHttpServer;
  root: string;
  dataDir: string;
  appRepo: string;
  configRepo: string;
  /** Mints a token in the hub's store and enrolls through the API. */
  enroll(name: string, labels?: Record<string, string>): Promise<{ agentId: string; credential: string }>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read API answers field by field and assert each
  call(method: string, path: string, options?: { body?: unknown; raw?: string; token?: string; contentType?: string }): Promise<{ status: number; json: any }>;
  /** The deployment whole (summary, every server's job and log tail) through the admin API's bounded routes. */
  viewDeployment(id: string): Promise<WholeDeployment>;
  close(): Promise<void>;
}

export async function startTestHub(env: Record<string, string> = {}): Promise<TestHub> {
  const root = await mkdtemp(join(tmpdir(), 'bitenvoy-test-hub-'));
  await mkdir(join(root, 'git'));
  const git = await startGitHttpServer({ root: join(root, 'git') });
  const appRepo = await createBareRepo(join(root, 'git'), SAMPLE_REPOSITORY, sampleAppFiles('1'));
  const configRepo = await createBareRepo(join(root, 'git'), 'bitenvoy/.bitenvoy', await sampleConfigFiles(`${git.url}/${SAMPLE_REPOSITORY}.git`));
  const dataDir = join(root, 'hub');
  const settings = readHubSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    BITENVOY_DATA_DIR: dataDir,
    BITENVOY_ADMIN_TOKEN: ADMIN_TOKEN,
    BITENVOY_CONFIG_REPO: `${git.url}/bitenvoy/.bitenvoy.git`,
    ...env,
  });
  const hub = await startHub(settings, { log: silentLogger() });
  const url = hub.url.replace('localhost', '127.0.0.1');

  const call: TestHub['call'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  };

  return {
    url,
    hub,
    git,
    root,
    dataDir,
    appRepo,
    configRepo,
    call,
    async enroll(name, labels = { role: 'web' }) {
      const store = await openStore({ dataDir, ...(settings.database ? { database: settings.database } : {}) });
      const { token } = await createEnrollToken(store, { createdBy: 'test' });
      await store.close();
      const res = await call('POST', '/api/agent/v1/enroll', { body: { token, name, labels, version: 'test' } });
      if (res.status !== 201) throw new Error(`enroll failed: ${JSON.stringify(res.json)}`);
      return { agentId: res.json.agentId, credential: res.json.credential };
    },
    viewDeployment: (id) =>
      readWholeDeployment(async (path) => {
        const res = await call('GET', `/api/v1${path}`, { token: ADMIN_TOKEN });
        if (res.status !== 200) throw new Error(`GET /api/v1${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
        return res.json;
      }, id),
    async close() {
      await hub.close();
      await git.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
