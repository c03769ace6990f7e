import { EmrWorkspaceClient } from '../api';
import { failure, fakeServer, json } from './utils';

const BASE = 'http://localhost:8888/lab-base/emr-workspace/api/';

function client(status = 200, body: unknown = {}) {
  const server = fakeServer(() =>
    status === 204 ? new Response(null, { status }) : json(status, body)
  );
  return {
    client: new EmrWorkspaceClient({ serverSettings: server.settings }),
    requests: server.requests
  };
}

async function sent(request: Request) {
  const url = new URL(request.url);
  const query = url.search
    .slice(1)
    .split('&')
    .filter(part => part && !/^\d+$/.test(part))
    .join('&');
  const text = await request.text();
  return {
    method: request.method,
    path: (url.origin + url.pathname).slice(BASE.length),
    query,
    body: text ? JSON.parse(text) : undefined
  };
}

describe('EmrWorkspaceClient executions and schedules', () => {
  const cases: [
    string,
    (c: EmrWorkspaceClient) => Promise<unknown>,
    { method: string; path: string; query?: string; body?: unknown }
  ][] = [
    [
      'startExecution',
      c =>
        c.startExecution({
          workspace_id: 'e-1',
          relative_path: 'etl/daily.ipynb',
          parameters: { n: 42 },
          output_format: 'both'
        }),
      {
        method: 'POST',
        path: 'executions',
        body: {
          workspace_id: 'e-1',
          relative_path: 'etl/daily.ipynb',
          parameters: { n: 42 },
          output_format: 'both'
        }
      }
    ],
    [
      'listExecutions',
      c =>
        c.listExecutions({
          workspace_id: 'e-1',
          status: ['RUNNING', 'STARTING'],
          limit: 50
        }),
      {
        method: 'GET',
        path: 'executions',
        query: 'workspace_id=e-1&status=RUNNING%2CSTARTING&limit=50'
      }
    ],
    [
      'listExecutions (no filter)',
      c => c.listExecutions(),
      { method: 'GET', path: 'executions', query: '' }
    ],
    [
      'getExecution',
      c => c.getExecution('ex-A/B'),
      { method: 'GET', path: 'executions/ex-A%2FB' }
    ],
    [
      'stopExecution',
      c => c.stopExecution('ex-1'),
      { method: 'POST', path: 'executions/ex-1/stop', body: {} }
    ],
    [
      'listSchedules',
      c => c.listSchedules({ workspace_id: 'e-1' }),
      { method: 'GET', path: 'schedules', query: 'workspace_id=e-1' }
    ],
    [
      'getSchedule',
      c => c.getSchedule('sch-1'),
      { method: 'GET', path: 'schedules/sch-1' }
    ],
    [
      'createSchedule',
      c =>
        c.createSchedule({
          workspace_id: 'e-1',
          relative_path: 'a.ipynb',
          cron: '0 6 * * 1-5',
          timezone: 'Europe/Paris'
        }),
      {
        method: 'POST',
        path: 'schedules',
        body: {
          workspace_id: 'e-1',
          relative_path: 'a.ipynb',
          cron: '0 6 * * 1-5',
          timezone: 'Europe/Paris'
        }
      }
    ],
    [
      'updateSchedule',
      c => c.updateSchedule('sch-1', { enabled: false }),
      { method: 'PATCH', path: 'schedules/sch-1', body: { enabled: false } }
    ]
  ];

  it.each(cases)('%s sends what openapi.yaml says', async (_, call, want) => {
    const { client: c, requests } = client(200, {});
    await call(c);
    expect(requests).toHaveLength(1);
    expect(await sent(requests[0])).toEqual({
      query: '',
      body: undefined,
      ...want
    });
  });

  it('deleteSchedule sends DELETE and accepts 204', async () => {
    const { client: c, requests } = client(204);
    await expect(c.deleteSchedule('sch-1')).resolves.toBeUndefined();
    expect(await sent(requests[0])).toMatchObject({
      method: 'DELETE',
      path: 'schedules/sch-1'
    });
  });

  it('listExecutions fills a page the server left short', async () => {
    const { client: c } = client(200, {});
    expect(await c.listExecutions()).toEqual({
      executions: [],
      next_token: null
    });
    const { client: c2 } = client(200, {
      executions: [{ id: 'ex-1' }],
      next_token: 'tok'
    });
    expect(await c2.listExecutions()).toEqual({
      executions: [{ id: 'ex-1' }],
      next_token: 'tok'
    });
  });

  it('a stop of an ended execution is the ExecutionEnded error', async () => {
    const { client: c } = client(409, {
      error: { code: 'ExecutionEnded', message: 'ex-1 already ended' }
    });
    const error = await failure(c.stopExecution('ex-1'));
    expect(error.code).toBe('ExecutionEnded');
    expect(error.status).toBe(409);
  });
});
