import type { FastifyBaseLogger } from 'fastify'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { HttpAppConfig } from '../common/app-options.js'
import { Code2SessionProvider, type Code2SessionClient } from '../common/code2session.js'

/** QQ's logins and open data: WeChat's jscode2session and encrypted-data scheme, at api.q.qq.com. */
export type QqClient = Code2SessionClient

/** QQ: WeChat's login provider under QQ's name, host and errors. */
export function qqProvider (configs: HttpAppConfig[], sessionKeys: LatestSessionKeys, log: FastifyBaseLogger): Code2SessionProvider {
  return new Code2SessionProvider('qq', { label: 'QQ', option: 'qq' }, configs, sessionKeys, log)
}
