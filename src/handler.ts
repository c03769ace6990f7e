import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

let trans: TranslationBundle = nullTranslator.load('jupyter_emr_workspace');

/**
 * Translate the messages of errors met on the way to the server.
 */
export function setApiTranslationBundle(bundle: TranslationBundle): void {
  trans = bundle;
}

/**
 * Base path of the server extension's REST API, relative to the server's base URL.
 */
export const API_NAMESPACE = 'emr-workspace/api';

/**
 * An error answered by the server extension (or met on the way to it).
 *
 * The server sends errors as `{"error": {"code": "...", "message": "..."}}`;
 * `details` keeps that whole object, so callers can read extra fields such as
 * `holder` on a `WorkspaceInUse` conflict.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, any> = {}
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /**
   * Whether the error is the given code, or the given HTTP status.
   */
  is(codeOrStatus: string | number): boolean {
    return typeof codeOrStatus === 'number'
      ? this.status === codeOrStatus
      : this.code === codeOrStatus;
  }
}

/**
 * Options of one request.
 */
export interface IRequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /**
   * A JSON body; serialised by `requestAPI`.
   */
  body?: unknown;
  /**
   * Query parameters appended to the URL.
   */
  query?: Record<string, string | number | boolean | undefined>;
  /**
   * Let the request outlive the page (used to release a lease on unload).
   */
  keepalive?: boolean;
  /**
   * Abort the request.
   */
  signal?: AbortSignal;
}

/**
 * Build the URL of an endpoint of the API.
 */
export function apiUrl(
  endPoint: string,
  query: IRequestOptions['query'] = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  const params = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
    );
  return params.length ? `${url}?${params.join('&')}` : url;
}

/**
 * Call the API extension and return its JSON answer.
 *
 * Every failure is thrown as an `ApiError` with the HTTP status (0 when the
 * server could not be reached), a code and a message a person can act on.
 *
 * @param endPoint API path relative to `/emr-workspace/api`, e.g. `workspaces`
 * @param options method, JSON body, query parameters
 * @param settings server connection settings
 */
export async function requestAPI<T>(
  endPoint = '',
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = apiUrl(endPoint, options.query, settings);
  const init: RequestInit = { method: options.method ?? 'GET' };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  if (options.keepalive) {
    init.keepalive = true;
  }
  if (options.signal) {
    init.signal = options.signal;
  }

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(
      0,
      'NetworkError',
      trans.__(
        'The Jupyter server could not be reached (%1). Check your connection and that the server is running.',
        errorText(error)
      )
    );
  }

  const text = await response.text();
  let data: any = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new ApiError(
          response.status,
          'BadResponse',
          trans.__(
            'The server answered %1 with something that is not JSON: %2',
            endPoint,
            text.slice(0, 200)
          )
        );
      }
    }
  }

  if (!response.ok) {
    throw errorFromResponse(response, data, text);
  }
  return data as T;
}

/**
 * Map a failed response to an `ApiError`.
 */
function errorFromResponse(
  response: Response,
  data: any,
  text: string
): ApiError {
  const status = response.status;
  // The extension's own errors.
  if (data && typeof data === 'object' && data.error) {
    const error = data.error;
    if (typeof error === 'object') {
      return new ApiError(
        status,
        String(error.code ?? `HTTP${status}`),
        String(error.message ?? response.statusText ?? `HTTP ${status}`),
        error
      );
    }
    return new ApiError(status, `HTTP${status}`, String(error), data);
  }
  // jupyter_server's own errors (authentication, XSRF, unknown route):
  // `{"message": ..., "reason": ...}`.
  if (data && typeof data === 'object' && (data.message || data.reason)) {
    return new ApiError(
      status,
      `HTTP${status}`,
      String(data.message || data.reason),
      data
    );
  }
  const fallback =
    status === 404
      ? trans.__(
          'The EMR Workspace server extension did not answer (404). Is jupyter_emr_workspace installed and enabled on this server?'
        )
      : text.trim().slice(0, 200) ||
        response.statusText ||
        trans.__('The server answered HTTP %1.', status);
  return new ApiError(status, `HTTP${status}`, fallback, data ?? {});
}

/**
 * The code of the error the server answers (503) when the Studio's store (S3
 * or a folder) cannot be reached or refuses; its message names the store.
 */
export const STORE_UNAVAILABLE = 'StoreUnavailable';

/**
 * Whether `error` says the Studio's store is away (not a bug, not a refusal:
 * work on this server waits locally and the request can be tried again).
 */
export function isStoreUnavailable(error: unknown): error is ApiError {
  return error instanceof ApiError && error.code === STORE_UNAVAILABLE;
}

/**
 * The message of any thrown value.
 */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
