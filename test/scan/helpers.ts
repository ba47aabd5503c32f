import type { FastifyInstance } from 'fastify'
import { PNG } from 'pngjs'
import jsqr from 'jsqr'
import { Agent, request } from 'undici'

// A browser for the scan-login and web-view tests: real HTTP to a listening
// app, with its own cookie jar (its binding nonce, its session).

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  json: Record<string, any>
}

export class Browser {
  readonly cookies = new Map<string, string>()
  /** Its own connections, so a test can end them (`close`). */
  private readonly agent = new Agent()

  constructor (readonly userAgent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36') {}

  /** A request with the browser's cookies; `json` sends an empty JSON body (what a page's fetch sends to a cookie-authenticated POST). */
  async call (base: string, method: 'GET' | 'POST' | 'DELETE', path: string, extra: { json?: boolean } = {}): Promise<Answer> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await request(`${base}${path}`, {
      method,
      headers: { 'user-agent': this.userAgent, ...(cookie ? { cookie } : {}), ...(extra.json ? { 'content-type': 'application/json' } : {}) },
      ...(extra.json ? { body: '{}' } : {}),
      dispatcher: this.agent
    })
    this.keep(response.headers['set-cookie'])
    const text = await response.body.text()
    let json: Record<string, any> = {}
    try {
      json = JSON.parse(text)
    } catch {}
    return { status: response.statusCode, headers: response.headers, json }
  }

  /** Server-Sent Events: each event's data, parsed, until the stream ends (or `signal` aborts it). */
  async events (base: string, path: string, onEvent: (data: Record<string, any>, event: string) => void, signal?: AbortSignal): Promise<number> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await request(`${base}${path}`, { headers: { cookie, accept: 'text/event-stream' }, ...(signal ? { signal } : {}), dispatcher: this.agent })
    if (response.statusCode !== 200) {
      await response.body.dump()
      return response.statusCode
    }
    let buffered = ''
    for await (const chunk of response.body) {
      buffered += String(chunk)
      let end: number
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const block = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (data !== undefined) onEvent(JSON.parse(data), /^event: (.*)$/m.exec(block)?.[1] ?? 'message')
      }
    }
    return 200
  }

  /** Ends its connections (after an aborted request, undici may hold one open that never sends a request). */
  close (): Promise<void> {
    return this.agent.destroy()
  }

  private keep (setCookie: string | string[] | undefined): void {
    for (const line of [setCookie ?? []].flat()) {
      const [pair] = line.split(';')
      const at = pair!.indexOf('=')
      const value = pair!.slice(at + 1)
      if (value === '' || /max-age=0\b|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(pair!.slice(0, at))
      else this.cookies.set(pair!.slice(0, at), value)
    }
  }
}

/** The app listening on 127.0.0.1, its base URL. */
export async function listening (app: FastifyInstance): Promise<string> {
  return app.listen({ host: '127.0.0.1', port: 0 })
}

/** What a QR reader reads in a data: URL's PNG. */
export function scanned (dataUrl: string): string | undefined {
  const png = PNG.sync.read(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'))
  return jsqr.default(new Uint8ClampedArray(png.data), png.width, png.height)?.data
}
