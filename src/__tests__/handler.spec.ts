import { ApiError, apiUrl, requestAPI } from '../handler';
import { failure, fakeServer, json } from './utils';

describe('apiUrl', () => {
  it('joins the base URL, the namespace and the endpoint', () => {
    const { settings } = fakeServer(() => json(200, {}));
    expect(apiUrl('workspaces/e-1/open', {}, settings)).toBe(
      'http://localhost:8888/lab-base/emr-workspace/api/workspaces/e-1/open'
    );
  });

  it('encodes query parameters and skips undefined ones', () => {
    const { settings } = fakeServer(() => json(200, {}));
    expect(
      apiUrl(
        'workspaces/e-1',
        { delete_notebooks: false, skip: undefined, q: 'a b&c' },
        settings
      )
    ).toBe(
      'http://localhost:8888/lab-base/emr-workspace/api/workspaces/e-1?delete_notebooks=false&q=a%20b%26c'
    );
  });
});

describe('requestAPI', () => {
  it('returns the parsed JSON of a success', async () => {
    const { settings, requests } = fakeServer(() => json(200, { ok: 1 }));
    await expect(requestAPI('studio', {}, settings)).resolves.toEqual({
      ok: 1
    });
    expect(requests[0].method).toBe('GET');
    // ServerConnection appends a cache-buster to GETs.
    expect(requests[0].url.split('?')[0]).toBe(
      'http://localhost:8888/lab-base/emr-workspace/api/studio'
    );
  });

  it('sends a JSON body with its content type and the token', async () => {
    const { settings, requests } = fakeServer(() => json(201, { id: 'e-1' }));
    await requestAPI(
      'workspaces',
      { method: 'POST', body: { name: 'w' } },
      settings
    );
    const request = requests[0];
    expect(request.method).toBe('POST');
    expect(request.headers.get('Content-Type')).toBe('application/json');
    expect(request.headers.get('Authorization')).toBe('token secret');
    expect(JSON.parse(await request.text())).toEqual({ name: 'w' });
  });

  it('returns undefined for 204 No Content', async () => {
    const { settings } = fakeServer(() => new Response(null, { status: 204 }));
    await expect(
      requestAPI('workspaces/e-1', { method: 'DELETE' }, settings)
    ).resolves.toBeUndefined();
  });

  it('maps the extension errors to a typed ApiError', async () => {
    const { settings } = fakeServer(() =>
      json(409, {
        error: {
          code: 'WorkspaceInUse',
          message: 'Workspace w is in use by bob since 10:00.',
          holder: { user: 'bob', since: '2024-01-01T10:00:00Z' }
        }
      })
    );
    const error = await failure(
      requestAPI('workspaces/e-1/open', { method: 'POST', body: {} }, settings)
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toBeInstanceOf(Error);
    expect(error.status).toBe(409);
    expect(error.code).toBe('WorkspaceInUse');
    expect(error.message).toBe('Workspace w is in use by bob since 10:00.');
    expect(error.details.holder).toEqual({
      user: 'bob',
      since: '2024-01-01T10:00:00Z'
    });
    expect(error.is('WorkspaceInUse')).toBe(true);
    expect(error.is(409)).toBe(true);
    expect(error.is(404)).toBe(false);
  });

  it("maps jupyter_server's own errors", async () => {
    const { settings } = fakeServer(() =>
      json(403, { message: "'_xsrf' argument missing from POST", reason: null })
    );
    const error = await failure(
      requestAPI('workspaces', { method: 'POST' }, settings)
    );
    expect(error.status).toBe(403);
    expect(error.code).toBe('HTTP403');
    expect(error.message).toBe("'_xsrf' argument missing from POST");
  });

  it('says what to do when the server extension is missing', async () => {
    const { settings } = fakeServer(
      () => new Response('<html>404: Not Found</html>', { status: 404 })
    );
    const error = await failure(requestAPI('studio', {}, settings));
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/jupyter_emr_workspace installed/);
  });

  it('keeps the text of a non-JSON error', async () => {
    const { settings } = fakeServer(
      () => new Response('Bad gateway: Livy is down', { status: 502 })
    );
    const error = await failure(requestAPI('clusters', {}, settings));
    expect(error.status).toBe(502);
    expect(error.code).toBe('HTTP502');
    expect(error.message).toBe('Bad gateway: Livy is down');
  });

  it('reports a success that is not JSON', async () => {
    const { settings } = fakeServer(
      () => new Response('<html>login</html>', { status: 200 })
    );
    const error = await failure(requestAPI('studio', {}, settings));
    expect(error.code).toBe('BadResponse');
  });

  it('maps network failures to status 0', async () => {
    const { settings } = fakeServer(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await failure(requestAPI('studio', {}, settings));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.code).toBe('NetworkError');
    expect(error.message).toMatch(/Failed to fetch/);
  });

  it('passes keepalive through to fetch', async () => {
    const { settings, requests } = fakeServer(
      () => new Response(null, { status: 204 })
    );
    await requestAPI(
      'workspaces/e-1/close',
      { method: 'POST', body: { token: 't' }, keepalive: true },
      settings
    );
    expect(requests[0].keepalive).toBe(true);
  });
});
