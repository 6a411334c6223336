// @ts-check
/**
 * A thin client of the Chats API v5 over `fetch`: JSON in and out, the contract's error body
 * turned into an {@link ApiError}. Credentials go in the `Authorization` header, never in URLs.
 */

/** An answer with a 4xx or 5xx status (or no answer at all: `status` 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} detail
   */
  constructor(status, code, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /**
   * @param {string} base the server's URL, without a trailing slash
   * @param {() => (string | null)} token the current credentials
   * @param {string} [scheme] `Token` (operators) or `Bearer` (visitors)
   */
  constructor(base, token, scheme = 'Token') {
    this.base = base;
    this.token = token;
    this.scheme = scheme;
  }

  /**
   * @param {string} method
   * @param {string} path below `/api/v5`
   * @param {unknown} [body]
   * @param {{keepalive?: boolean}} [options]
   * @returns {Promise<any>} the parsed body (`null` for 204)
   */
  async request(method, path, body, options = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    const token = this.token();
    if (token) headers['Authorization'] = `${this.scheme} ${token}`;
    /** @type {RequestInit} */
    const init = { method, headers, keepalive: options.keepalive === true };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`${this.base}/api/v5${path}`, init);
    } catch (e) {
      throw new ApiError(0, 'network_error', 'The server cannot be reached.');
    }
    const text = await res.text();
    /** @type {any} */
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const detail = data && typeof data.detail === 'string' ? data.detail : res.statusText;
      const code = data && typeof data.code === 'string' ? data.code : 'http_error';
      throw new ApiError(res.status, code, detail);
    }
    return data;
  }

  /** @param {string} path */
  get(path) {
    return this.request('GET', path);
  }
  /**
   * Every item of a collection, following its `next` links from `path`.
   * @param {string} path
   * @param {(item: any) => void} each
   */
  async getAll(path, each) {
    /** @type {string | null} */
    let next = path;
    while (next) {
      const page = await this.get(next);
      for (const item of page.results) each(item);
      next = page.next ? new URL(page.next).pathname.replace(/^\/api\/v5/, '') + new URL(page.next).search : null;
    }
  }
  /** @param {string} path @param {unknown} body */
  post(path, body) {
    return this.request('POST', path, body);
  }
  /** @param {string} path @param {unknown} body */
  patch(path, body) {
    return this.request('PATCH', path, body);
  }
  /** @param {string} path @param {unknown} body */
  put(path, body) {
    return this.request('PUT', path, body);
  }
}
