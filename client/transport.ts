// The helper's calls as the platform's: the full URL, the skey header for our
// server only, a JSON body, GET data in the query string; a call that got no
// reply at all becomes an AuthClientError with status 0.

import { AuthClientError, describe } from './errors.js'
import { parseBody } from './envelope.js'
import type { PlatformAdapter } from './platform.js'
import type { DownloadOptions, Method, Reply, RequestOptions, UploadOptions } from './types.js'

const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'DELETE']

export interface Transport {
  /** Whether a url goes to our server, the only one that gets the skey (a TypeError for a relative url that could change the host). */
  ours: (url: string) => boolean
  request: (options: RequestOptions, skey: string | null) => Promise<Reply>
  upload: (options: UploadOptions, skey: string | null) => Promise<Reply>
  download: (options: DownloadOptions, skey: string | null) => Promise<Reply & { tempFilePath: string }>
}

export function createTransport (adapter: PlatformAdapter, baseUrl: string, skeyHeader: string): Transport {
  /** The full URL, and whether it goes to our server. */
  function target (url: string): { url: string, ours: boolean } {
    if (/^https?:\/\//.test(url)) return { url, ours: url === baseUrl || url.startsWith(`${baseUrl}/`) }
    // Only a path: 'api/x' or '@evil.example/x' appended to baseUrl would change its host.
    if (!url.startsWith('/')) throw new TypeError(`url must be a path starting with '/' or an http(s) URL (got ${JSON.stringify(url)})`)
    return { url: baseUrl + url, ours: true }
  }

  function headers (ours: boolean, skey: string | null, given: Record<string, string> | undefined): Record<string, string> {
    const header: Record<string, string> = { ...given }
    // Never hand the skey to another host: it is a bearer credential.
    if (skey !== null && ours) header[skeyHeader] = skey
    return header
  }

  /** The platform's call; no reply at all is an AuthClientError (a TypeError stays one: a mistake, not the network). */
  async function exchange<R> (what: string, run: () => Promise<R>): Promise<R> {
    try {
      return await run()
    } catch (error) {
      if (error instanceof TypeError) throw error
      throw new AuthClientError(0, 'MPA_CLIENT_REQUEST_FAILED', `${what} failed: ${describe(error)}`, error)
    }
  }

  /** The platform call for an optional capability, or a TypeError naming what is missing. */
  function capability<K extends 'uploadFile' | 'downloadFile'> (name: K): NonNullable<PlatformAdapter[K]> {
    const fn = adapter[name]
    if (!fn) throw new TypeError(`${name}: this ${adapter.name} platform object has no ${name}`)
    return fn.bind(adapter) as NonNullable<PlatformAdapter[K]>
  }

  return {
    ours: (url) => target(url).ours,
    request: async ({ url: given, method = 'GET', data, header }, skey) => {
      if (!METHODS.includes(method)) throw new TypeError(`method must be one of ${METHODS.join(', ')} (got ${JSON.stringify(method)})`)
      const { url: base, ours } = target(given)
      const url = method === 'GET' ? withQuery(base, data) : base
      const request = { url, method, header: headers(ours, skey, header) }
      const hasBody = method !== 'GET' && data !== undefined
      // JSON in, whatever the platform's default.
      if (hasBody) request.header['content-type'] = 'application/json'
      const reply = await exchange(`${method} ${url}`, () => adapter.request(hasBody ? { ...request, data } : request))
      return { statusCode: reply.statusCode, data: parseBody(reply.data) }
    },
    upload: async ({ url: given, filePath, name, formData = {}, header, fileType = 'image' }, skey) => {
      const uploadFile = capability('uploadFile')
      const { url, ours } = target(given)
      const reply = await exchange(`uploadFile ${url}`, () => uploadFile({ url, filePath, name, formData, fileType, header: headers(ours, skey, header) }))
      return { statusCode: reply.statusCode, data: parseBody(reply.data) }
    },
    download: async ({ url: given, header }, skey) => {
      const downloadFile = capability('downloadFile')
      const { url, ours } = target(given)
      const reply = await exchange(`downloadFile ${url}`, () => downloadFile({ url, header: headers(ours, skey, header) }))
      return { statusCode: reply.statusCode, tempFilePath: reply.tempFilePath, data: parseBody(reply.data) }
    }
  }
}

/** The url with data appended as query parameters, after any it already has. */
function withQuery (url: string, data: unknown): string {
  if (data === undefined || data === null) return url
  const pairs = Object.entries(data as Record<string, unknown>)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  if (pairs.length === 0) return url
  return url + (url.includes('?') ? '&' : '?') + pairs.join('&')
}
