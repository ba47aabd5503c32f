import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { defaultResolveUser, LoginFlow, type LinkIdentity, type MiniprogramLogin } from '../login/flow.js'
import { AppHooks, type OnLogin } from '../login/hooks.js'
import { CodeClaims } from '../store/code-claims.js'
import type { ResolveUser } from '../types.js'
import { kGateway, kHookTimeout } from './sessions.js'

export interface LoginPluginOptions {
  /** Default: `{ id: '<provider>:<appId>:<openId or alipayUserId>' }`. */
  resolveUser?: ResolveUser
  /**
   * How long a client may retry the same login code and get the same answer
   * (its first reply was lost). Seconds or a string. Default '60s'.
   */
  codeReplayWindow?: number | string
  /** Called after a login created its session, beside the reply; a hook that throws is logged and changes nothing. */
  onLogin?: OnLogin
  /** Adds an identity to the logged-in user (POST /<provider>/link); without it there are no link routes. */
  linkIdentity?: LinkIdentity
}

declare module 'fastify' {
  interface FastifyInstance {
    miniprogramLogin: MiniprogramLogin
  }
}

/** `fastify.miniprogramLogin`: the login flow the provider routes call. */
const loginPlugin: FastifyPluginAsync<LoginPluginOptions> = async (fastify, options) => {
  const resolveUser = options.resolveUser ?? defaultResolveUser
  if (typeof resolveUser !== 'function') throw new TypeError('resolveUser must be a function (identity, request) => user')
  if (options.linkIdentity !== undefined && typeof options.linkIdentity !== 'function') throw new TypeError('linkIdentity must be a function (user, identity, request) => void')
  const replayWindowMs = parseDuration(options.codeReplayWindow ?? '60s', 'codeReplayWindow')
  const claims = new CodeClaims(fastify[kGateway], replayWindowMs)
  const hooks = new AppHooks(fastify.log.child({ plugin: 'mpa-login' }), { onLogin: options.onLogin }, fastify[kHookTimeout])
  fastify.addHook('onClose', () => hooks.settled())
  fastify.decorate('miniprogramLogin', new LoginFlow(claims, fastify.sessions, resolveUser, hooks, options.linkIdentity))
}

export default fp(loginPlugin, {
  name: 'mpa-login',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
