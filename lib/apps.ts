import { UnknownAppError } from '../errors.js'

/**
 * The apps of a provider option, given as one app's options or an array of
 * them, each with the name to quote in errors ('wechat' or 'wechat[1]').
 * Refuses an empty list, a non-object and the same appId twice.
 */
export function appOptionsOf<T> (value: T | T[] | undefined, option: string): Array<{ options: T, name: string }> {
  const many = Array.isArray(value)
  const list: unknown[] = many ? value : [value]
  if (list.length === 0) throw new TypeError(`${option} must be an app's options or a non-empty array of them`)
  const seen = new Set<unknown>()
  return list.map((options, i) => {
    const name = many ? `${option}[${i}]` : option
    if (typeof options !== 'object' || options === null) throw new TypeError(`${name} must be an object`)
    const { appId } = options as { appId?: unknown }
    if (seen.has(appId)) throw new TypeError(`${name}.appId ${String(appId)} is configured twice`)
    seen.add(appId)
    return { options: options as T, name }
  })
}

/** A provider's apps by appId; the first is the default. */
export class Apps<A extends { appId: string }> {
  readonly ids: readonly string[]
  private readonly byId: Map<string, A>

  constructor (apps: A[]) {
    this.byId = new Map(apps.map((app) => [app.appId, app]))
    this.ids = [...this.byId.keys()]
  }

  /** The app a request names, else the default; 400 MPA_UNKNOWN_APP for one not configured here. */
  get (appId?: string): A {
    const app = this.byId.get(appId ?? this.ids[0] as string)
    if (!app) throw new UnknownAppError(JSON.stringify(appId))
    return app
  }
}
