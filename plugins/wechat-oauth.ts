import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { MOBILE_APP, OA, WEBSITE, wechatOAuthAppsOf, type OAuthSurface, type WechatOAuthAppOptions } from '../providers/wechat-oauth/options.js'
import { WechatOAuthProvider, type WechatOAuthClient } from '../providers/wechat-oauth/provider.js'
import { OAuthStates } from '../store/oauth-states.js'
import { providerPlugin } from './provider-plugin.js'
import { kGateway } from './sessions.js'

export interface WechatOAuthPluginOptions {
  /** One app, or several (the first is the default). */
  apps: WechatOAuthAppOptions | WechatOAuthAppOptions[]
}

/** The browser logins' states (store/oauth-states.ts): internal. */
export const kOAuthStates = Symbol('mpa-oauth-states')

declare module 'fastify' {
  interface FastifyInstance {
    'wechat-oa': WechatOAuthClient
    'wechat-web': WechatOAuthClient
    'wechat-app': WechatOAuthClient
    [kOAuthStates]: OAuthStates
  }
}

const surfacePlugin = (surface: OAuthSurface) => providerPlugin(surface.name, (options: WechatOAuthPluginOptions, { log }) =>
  new WechatOAuthProvider(surface, wechatOAuthAppsOf(options?.apps, surface), log))

/** `fastify['wechat-oa']`: an official account's web pages (网页授权). */
export const wechatOaPlugin = surfacePlugin(OA)
/** `fastify['wechat-web']`: a website's QR login (网站应用). */
export const wechatWebPlugin = surfacePlugin(WEBSITE)
/** `fastify['wechat-app']`: a mobile app's login (移动应用). */
export const wechatAppPlugin = surfacePlugin(MOBILE_APP)

const oauthStatesPlugin: FastifyPluginAsync<{ ttlMs: number }> = async (fastify, { ttlMs }) => {
  fastify.decorate(kOAuthStates, new OAuthStates(fastify[kGateway], ttlMs))
}

/** The single-use states of the browser logins, registered once whichever surfaces are on. */
export const oauthStates = fp(oauthStatesPlugin, { name: 'mpa-oauth-states', fastify: '5.x', dependencies: ['mpa-sessions'] })
