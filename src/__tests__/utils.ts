import { ServerConnection } from '@jupyterlab/services';

import { ApiError } from '../handler';

/**
 * Server settings whose `fetch` answers with `respond` and records requests.
 */
export function fakeServer(
  respond: (request: Request) => Response | Promise<Response>
): { settings: ServerConnection.ISettings; requests: Request[] } {
  const requests: Request[] = [];
  const fetch = jest.fn(async (input: RequestInfo, init?: RequestInit) => {
    const request =
      input instanceof Request ? input : new Request(String(input), init);
    requests.push(request);
    return respond(request);
  });
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/lab-base/',
    wsUrl: 'ws://localhost:8888/lab-base/',
    token: 'secret',
    fetch: fetch as any
  });
  return { settings, requests };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/**
 * The ApiError a promise rejects with; fails the test when it resolves.
 */
export async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('Expected the promise to reject');
}
