// Type tests (tstyche): what the public types say, asserted, not only compiled.
// The program is test/types' (tsconfig.json), where typed-app.ts declares the
// app's user as { id: number, role: 'admin' | 'member' }.
import Fastify, { type FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import { describe, expect, test } from 'tstyche'
import miniprogramAuth, {
  createSessionAdmin, errorContractBody, SessionStore, type AuthUser, type CreatedSession, type ErrorContractBody, type Identity, type LoginResult,
  type MiniprogramAuthOptions, type OnRevoke, type RevokeEvent, type RevokeReason, type Session
} from '../../index.js'
import { createAuthClient, type AuthClient } from '../../client/index.js'

const app = Fastify()
declare const redis: Redis

describe('the session store', () => {
  test('revoke takes a target and answers the ids it revoked', () => {
    expect(app.sessions.revoke({ skey: 'k' })).type.toBe<Promise<string[]>>()
    expect(app.sessions.revoke({ userId: 1 }, { reason: 'logout' })).type.toBe<Promise<string[]>>()
    expect(app.sessions.revoke({ userId: 'u', sessionId: 's' })).type.toBe<Promise<string[]>>()
    // The deprecated form by skey still answers whether there was one.
    expect(app.sessions.revoke('k')).type.toBe<Promise<boolean>>()
    expect(app.sessions.revoke).type.not.toBeCallableWith({ sessionId: 's' })
    expect(app.sessions.revoke).type.not.toBeCallableWith({ userId: 1 }, { reason: 'whatever' })
  })

  test('get and list answer read-only sessions of the app\'s user', () => {
    expect(app.sessions.get('k')).type.toBe<Promise<Session | null>>()
    expect(app.sessions.list(1)).type.toBe<Promise<Session[]>>()
    expect<Session['user']>().type.toBe<{ id: number, role: 'admin' | 'member' }>()
    expect<AuthUser>().type.toBe<{ id: number, role: 'admin' | 'member' }>()
  })

  test('create needs a user of the app\'s type, and answers the skey and what the cap evicted', () => {
    const identity: Identity = { provider: 'wechat', appId: 'wx' }
    expect(app.sessions.create(identity, { user: { id: 1, role: 'admin' } })).type.toBe<Promise<CreatedSession>>()
    expect(app.sessions.create).type.not.toBeCallableWith(identity, { user: { id: '1', role: 'admin' } })
    expect<CreatedSession>().type.toHaveProperty('evicted')
  })

  test('a SessionStore of one\'s own takes an ioredis client and the session options', () => {
    expect(SessionStore).type.toBeConstructableWith(redis, { ttl: '7d', maxPerUser: 3, cache: false })
    expect(SessionStore).type.not.toBeConstructableWith(redis, { ttl: true })
    expect(SessionStore).type.not.toBeConstructableWith({ not: 'a client' })
  })
})

describe('the plugin options', () => {
  test('take durations as seconds or strings, and refuse unknown reasons in onRevoke', () => {
    expect(app.register).type.toBeCallableWith(miniprogramAuth, { session: { ttl: '7d', maxAge: 30 * 86_400, cache: { max: 100 } } })
    expect(app.register).type.not.toBeCallableWith(miniprogramAuth, { session: { ttl: true } })
    expect<Parameters<OnRevoke>>().type.toBe<[event: RevokeEvent, request?: FastifyRequest]>()
    expect<RevokeReason>().type.toBe<'logout' | 'logout-all' | 'cap' | 'admin' | 'ban' | 'issued-before'>()
  })

  test('errorReply shapes our error body; rateLimit.timeWindow is @fastify/rate-limit\'s', () => {
    expect(app.register).type.toBeCallableWith(miniprogramAuth, { errorReply: (error: ErrorContractBody) => ({ code: error.statusCode * 100, msg: error.message, data: null }) })
    expect(app.register).type.not.toBeCallableWith(miniprogramAuth, { errorReply: 'envelope' })
    expect(errorContractBody(new Error('x'))).type.toBe<ErrorContractBody>()
    expect(app.register).type.toBeCallableWith(miniprogramAuth, { rateLimit: { timeWindow: '1 minute' } })
    expect(app.register).type.toBeCallableWith(miniprogramAuth, { rateLimit: { timeWindow: (_request: FastifyRequest, _key: string) => 60_000 } })
    expect(app.register).type.not.toBeCallableWith(miniprogramAuth, { rateLimit: { timeWindow: true } })
  })

  test('a login answers the skey, its expiry and the app\'s user', () => {
    expect<LoginResult['user']>().type.toBe<AuthUser>()
    expect<LoginResult['skey']>().type.toBe<string>()
  })
})

describe('the session admin', () => {
  test('is built from the plugin\'s options object, lists and revokes', () => {
    const options: MiniprogramAuthOptions = { redis, keyPrefix: 'app:', wechat: { appId: 'wx', appSecret: 's' } }
    const admin = createSessionAdmin(options)
    expect(admin.list(1)).type.toBe<Promise<Session[]>>()
    expect(admin.revoke({ userId: 1 })).type.toBe<Promise<string[]>>()
    expect(admin.revoke({ userId: 'u', sessionId: 's' }, { reason: 'admin' })).type.toBe<Promise<string[]>>()
    expect(admin.revoke).type.not.toBeCallableWith({ sessionId: 's' })
    expect(createSessionAdmin).type.not.toBeCallableWith({ redis, session: { ttl: true } })
  })
})

describe('the request', () => {
  test('authenticate sets request.user and request.session', () => {
    app.get('/', { preHandler: app.authenticate }, async (request) => {
      expect(request.user).type.toBe<AuthUser>()
      expect(request.session).type.toBe<Session>()
      expect(request.session.secrets.sessionKey).type.toBe<string | undefined>()
    })
  })
})

describe('the mini-program helper', () => {
  test('createAuthClient answers an AuthClient whose login resolves the reply', () => {
    expect(createAuthClient({ baseUrl: 'https://api.example.com', platform: 'wechat' })).type.toBe<AuthClient>()
    expect(createAuthClient).type.not.toBeCallableWith({ baseUrl: 'https://api.example.com' })
  })
})
