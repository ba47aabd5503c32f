import type { FastifyInstance, RouteOptions } from 'fastify'
import { rejectUnknownKeys } from '../lib/options.js'

type Hook = (...args: any[]) => unknown

/** Fastify's route-level hooks. */
const HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'preSerialization', 'onSend', 'onResponse', 'onTimeout', 'onError', 'onRequestAbort'] as const
type HookName = typeof HOOKS[number]

/** The schema keys an app may set on our routes: documentation only, never what is validated or serialized. */
const DOC_KEYS = ['tags', 'summary', 'description', 'security', 'operationId', 'deprecated', 'hide', 'externalDocs'] as const satisfies ReadonlyArray<keyof NonNullable<AppRouteOptions['schema']>>

/**
 * What an app attaches to our routes, as it would to its own: hooks, config
 * (its policies read `request.routeOptions.config`) and documentation.
 */
export type AppRouteOptions = {
  /**
   * Merged into each route's config. Our own keys win (`rateLimit` on the
   * login routes).
   */
  config?: Record<string, unknown>
  /** Documentation, replacing ours key by key (never what is validated or serialized). */
  schema?: {
    tags?: string[]
    summary?: string
    description?: string
    security?: Array<Record<string, string[]>>
    operationId?: string
    deprecated?: boolean
    hide?: boolean
    externalDocs?: { url: string, description?: string }
  }
} & {
  /**
   * Route-level hooks, run after ours at the same stage: a preHandler sees
   * the session authenticate set. (Our only onRequest hook, the login rate
   * limit, runs after the app's.)
   */
  [K in HookName]?: Hook | Hook[]
}

/** The same for every route of ours, or per route (undefined: nothing for that one). */
export type AppRouteOptionsOption = AppRouteOptions | ((route: { method: string | string[], url: string }) => AppRouteOptions | undefined)

/**
 * Adds the app's route options to every route registered in `fastify`'s
 * scope from now on. Checked at once when given as an object, and for each
 * route when given as a function (still during registration).
 */
export function applyAppRouteOptions (fastify: FastifyInstance, option: AppRouteOptionsOption | undefined): void {
  if (option === undefined) return
  if (typeof option !== 'function') checked(option, 'routes')
  fastify.addHook('onRoute', (route) => {
    const extra = typeof option === 'function' ? option({ method: route.method, url: route.url }) : option
    if (extra === undefined) return
    merge(route, typeof option === 'function' ? checked(extra, `routes(${String(route.method)} ${route.url})`) : extra)
  })
}

function checked (options: AppRouteOptions, name: string): AppRouteOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${name} must be { config, schema, onRequest, preHandler, … } or a function returning one (got ${JSON.stringify(options)})`)
  rejectUnknownKeys(options, ['config', 'schema', ...HOOKS], name)
  rejectUnknownKeys(options.schema, DOC_KEYS, `${name}.schema`)
  if (options.config !== undefined && (typeof options.config !== 'object' || options.config === null)) throw new TypeError(`${name}.config must be an object`)
  for (const hook of HOOKS) {
    const handlers = options[hook]
    if (handlers !== undefined && ![handlers].flat().every((handler) => typeof handler === 'function')) {
      throw new TypeError(`${name}.${hook} must be a hook function or an array of them`)
    }
  }
  return options
}

function merge (route: RouteOptions, extra: AppRouteOptions): void {
  if (extra.config) route.config = { ...extra.config, ...route.config }
  if (extra.schema) route.schema = { ...route.schema, ...extra.schema }
  const hooks = route as unknown as Record<HookName, Hook | Hook[] | undefined>
  for (const hook of HOOKS) {
    const added = extra[hook]
    if (added !== undefined) hooks[hook] = [...[hooks[hook] ?? []].flat(), ...[added].flat()]
  }
}
