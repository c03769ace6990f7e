import { EmrWorkspaceClient, otherHolders } from '../api';
import { fakeServer, json } from './utils';

/**
 * A client whose server answers `body` with `status` to every request.
 */
function client(status = 200, body: unknown = {}) {
  const server = fakeServer(() =>
    status === 204 ? new Response(null, { status }) : json(status, body)
  );
  return {
    client: new EmrWorkspaceClient({ serverSettings: server.settings }),
    requests: server.requests
  };
}

const BASE = 'http://localhost:8888/lab-base/emr-workspace/api/';

async function sent(request: Request) {
  const url = new URL(request.url);
  // Drop ServerConnection's cache-buster (a bare number).
  const query = url.search
    .slice(1)
    .split('&')
    .filter(part => part && !/^\d+$/.test(part))
    .join('&');
  const text = await request.text();
  return {
    method: request.method,
    path: url.origin + url.pathname,
    query,
    body: text ? JSON.parse(text) : undefined
  };
}

describe('EmrWorkspaceClient', () => {
  const cases: [
    string,
    (c: EmrWorkspaceClient) => Promise<unknown>,
    { method: string; path: string; query?: string; body?: unknown }
  ][] = [
    ['getStudio', c => c.getStudio(), { method: 'GET', path: 'studio' }],
    [
      'getWorkspace',
      c => c.getWorkspace('e-ABC'),
      { method: 'GET', path: 'workspaces/e-ABC' }
    ],
    [
      'createWorkspace',
      c =>
        c.createWorkspace({
          name: 'churn',
          description: 'd',
          tags: { team: 'a' },
          collaboration: { enabled: true, collaborators: ['user:bob'] }
        }),
      {
        method: 'POST',
        path: 'workspaces',
        body: {
          name: 'churn',
          description: 'd',
          tags: { team: 'a' },
          collaboration: { enabled: true, collaborators: ['user:bob'] }
        }
      }
    ],
    [
      'updateWorkspace',
      c => c.updateWorkspace('e-ABC', { description: 'new' }),
      {
        method: 'PATCH',
        path: 'workspaces/e-ABC',
        body: { description: 'new' }
      }
    ],
    [
      'openWorkspace',
      c => c.openWorkspace('e-ABC'),
      { method: 'POST', path: 'workspaces/e-ABC/open', body: {} }
    ],
    [
      'heartbeat',
      c => c.heartbeat('e-ABC', 'tok'),
      {
        method: 'POST',
        path: 'workspaces/e-ABC/heartbeat',
        body: { token: 'tok' }
      }
    ],
    [
      'attach',
      c => c.attach('e-ABC', { type: 'local', cluster_id: 'local' }),
      {
        method: 'POST',
        path: 'workspaces/e-ABC/attach',
        body: { type: 'local', cluster_id: 'local' }
      }
    ],
    [
      'attach (EKS endpoint)',
      c =>
        c.attach('e-ABC', {
          type: 'emr-eks',
          cluster_id: 'vc-1',
          endpoint_id: 'ep-1'
        }),
      {
        method: 'POST',
        path: 'workspaces/e-ABC/attach',
        body: { type: 'emr-eks', cluster_id: 'vc-1', endpoint_id: 'ep-1' }
      }
    ],
    [
      'attach (Serverless, with an execution role)',
      c =>
        c.attach('e-ABC', {
          type: 'emr-serverless',
          cluster_id: '00f1',
          execution_role_arn: 'arn:aws:iam::1:role/exec'
        }),
      {
        method: 'POST',
        path: 'workspaces/e-ABC/attach',
        body: {
          type: 'emr-serverless',
          cluster_id: '00f1',
          execution_role_arn: 'arn:aws:iam::1:role/exec'
        }
      }
    ],
    [
      'executionRoles',
      c => c.executionRoles('emr-ec2'),
      { method: 'GET', path: 'execution-roles', query: 'type=emr-ec2' }
    ],
    [
      'detach',
      c => c.detach('e-ABC'),
      { method: 'POST', path: 'workspaces/e-ABC/detach', body: {} }
    ],
    [
      'restartKernels',
      c => c.restartKernels('e-ABC'),
      { method: 'POST', path: 'workspaces/e-ABC/restart-kernels', body: {} }
    ],
    [
      'getBackupStatus',
      c => c.getBackupStatus('e-ABC'),
      { method: 'GET', path: 'workspaces/e-ABC/backup' }
    ],
    [
      'backupNow',
      c => c.backupNow('e-ABC'),
      { method: 'POST', path: 'workspaces/e-ABC/backup', body: {} }
    ],
    [
      'shareWorkspace',
      c => c.shareWorkspace('e-ABC'),
      { method: 'POST', path: 'workspaces/e-ABC/share', body: {} }
    ],
    [
      'unshareWorkspace',
      c => c.unshareWorkspace('e-ABC'),
      { method: 'DELETE', path: 'workspaces/e-ABC/share' }
    ],
    [
      'shareStatus',
      c => c.shareStatus('e-ABC'),
      { method: 'GET', path: 'workspaces/e-ABC/share' }
    ],
    [
      'createCluster',
      c =>
        c.createCluster({
          template: 'small',
          name: 'c1',
          parameters: { workers: 2 }
        }),
      {
        method: 'POST',
        path: 'clusters',
        body: { template: 'small', name: 'c1', parameters: { workers: 2 } }
      }
    ]
  ];

  it.each(cases)(
    '%s sends the request of the contract',
    async (_, call, expected) => {
      const { client: c, requests } = client(200, {});
      await call(c);
      expect(requests).toHaveLength(1);
      expect(await sent(requests[0])).toEqual({
        method: expected.method,
        path: BASE + expected.path,
        query: expected.query ?? '',
        body: expected.body
      });
    }
  );

  it('encodes Workspace ids in paths', async () => {
    const { client: c, requests } = client(200, {});
    await c.getWorkspace('e-1/../x');
    expect((await sent(requests[0])).path).toBe(
      BASE + 'workspaces/e-1%2F..%2Fx'
    );
  });

  it('deletes keeping the backups unless asked', async () => {
    const { client: c, requests } = client(204);
    await c.deleteWorkspace('e-ABC');
    await c.deleteWorkspace('e-ABC', { deleteNotebooks: true });
    expect(await sent(requests[0])).toMatchObject({
      method: 'DELETE',
      path: BASE + 'workspaces/e-ABC',
      query: 'delete_notebooks=false'
    });
    expect((await sent(requests[1])).query).toBe('delete_notebooks=true');
  });

  it("returns where the deleted Workspace's backups stay", async () => {
    const { client: c } = client(200, {
      id: 'e-ABC',
      delete_notebooks: false,
      backups_kept: true,
      backup_uri: 's3://bucket/studio/e-ABC/'
    });
    const result = await c.deleteWorkspace('e-ABC');
    expect(result.backup_uri).toBe('s3://bucket/studio/e-ABC/');
  });

  it('closes with the token, keepalive when asked', async () => {
    const { client: c, requests } = client(204);
    await c.closeWorkspace('e-ABC', 'tok', { keepalive: true });
    expect(requests[0].keepalive).toBe(true);
    expect(await sent(requests[0])).toMatchObject({
      method: 'POST',
      path: BASE + 'workspaces/e-ABC/close',
      body: { token: 'tok' }
    });
  });

  it('force-releases with DELETE on the lock', async () => {
    const { client: c, requests } = client(204);
    await c.forceRelease('e-ABC');
    expect(await sent(requests[0])).toMatchObject({
      method: 'DELETE',
      path: BASE + 'workspaces/e-ABC/lock'
    });
  });

  it('asks for a fresh listing only when told to', async () => {
    const { client: c, requests } = client(200, { workspaces: [] });
    await c.listWorkspaces();
    await c.listWorkspaces({ fresh: true });
    expect(await sent(requests[0])).toMatchObject({
      path: BASE + 'workspaces',
      query: ''
    });
    expect(await sent(requests[1])).toMatchObject({
      path: BASE + 'workspaces',
      query: 'fresh=true'
    });
  });

  it('unwraps list answers', async () => {
    await expect(
      client(200, { workspaces: [{ id: 'e-1' }] }).client.listWorkspaces()
    ).resolves.toEqual([{ id: 'e-1' }]);
    await expect(
      client(200, {
        templates: [{ name: 't', fields: [] }]
      }).client.listTemplates()
    ).resolves.toEqual([{ name: 't', fields: [] }]);
    await expect(
      client(200, { clusters: [{ id: 'local' }] }).client.listClusters()
    ).resolves.toEqual({ clusters: [{ id: 'local' }], errors: [] });
  });

  it('throws the server error of a failed call', async () => {
    const { client: c } = client(409, {
      error: { code: 'LeaseLost', message: 'Your lease on w was taken over.' }
    });
    await expect(c.heartbeat('e-1', 'tok')).rejects.toMatchObject({
      status: 409,
      code: 'LeaseLost',
      message: 'Your lease on w was taken over.'
    });
  });

  it('returns who the server was shared with', async () => {
    const answer = {
      server: { owner: 'alice', name: '', url: '/user/alice/' },
      shared_with: ['bob', 'carol'],
      skipped: [{ principal: 'group:gone', reason: 'No such group' }]
    };
    await expect(
      client(200, answer).client.shareWorkspace('e-1')
    ).resolves.toEqual(answer);
    await expect(
      client(200, { server: null, revoked: ['bob'] }).client.unshareWorkspace(
        'e-1'
      )
    ).resolves.toEqual({ server: null, revoked: ['bob'] });
  });

  it.each([
    [
      'NotUnderJupyterHub',
      'This server does not run under JupyterHub, so it cannot be shared.'
    ],
    ['CollaborationDisabled', "Collaboration is off for Workspace 'w'."],
    ['WorkspaceNotOpen', "Open Workspace 'w' on this server before sharing it."]
  ])('maps a refused share (%s) to its ApiError', async (code, message) => {
    const { client: c } = client(409, { error: { code, message } });
    await expect(c.shareWorkspace('e-1')).rejects.toMatchObject({
      status: 409,
      code,
      message
    });
  });

  it('maps a share the permissions refuse to its ApiError', async () => {
    const { client: c } = client(403, {
      error: { code: 'AccessDenied', message: 'Not allowed.' }
    });
    await expect(c.unshareWorkspace('e-1')).rejects.toMatchObject({
      status: 403,
      code: 'AccessDenied'
    });
    await expect(c.shareStatus('e-1')).rejects.toMatchObject({
      status: 403,
      code: 'AccessDenied'
    });
  });
});

describe('otherHolders', () => {
  it('lists the holders other than the user', () => {
    const workspace: any = {
      lock: {
        holders: [
          { user: 'alice', since: 'x' },
          { user: 'bob', since: 'y' }
        ],
        generation: 2
      }
    };
    expect(otherHolders(workspace, 'alice')).toEqual([
      { user: 'bob', since: 'y' }
    ]);
    expect(otherHolders({ ...workspace, lock: null }, 'alice')).toEqual([]);
  });
});
