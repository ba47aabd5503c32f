import t from 'tap'
import { readFileSync } from 'node:fs'
import ts from 'typescript'
import type { Redis } from 'ioredis'
import type { Identity, ResolveUser } from '../../index.js'
import { ALIPAY_APP_ID, AlipayWorld } from '../helpers/alipay-world.js'

// An app moving from user_id to open_id (user_id only → both → open_id only)
// must not split a person in two. The default user id does; the resolveUser
// docs/alipay.md shows does not. That resolveUser runs here as written there.

type LinkingResolveUser = (redis: Redis, prefix: string) => (identity: Identity) => Promise<{ id: string }>

/** The documented resolveUser: the ts block of docs/alipay.md that defines it, compiled as it stands. */
async function documentedResolveUser (): Promise<LinkingResolveUser> {
  const doc = readFileSync(new URL('../../docs/alipay.md', import.meta.url), 'utf8')
  const source = [...doc.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((block) => block[1] as string).find((code) => code.includes('export function linkingResolveUser'))
  if (source === undefined) throw new Error('docs/alipay.md has no linkingResolveUser block')
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } })
  const module = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`) as { linkingResolveUser: LinkingResolveUser }
  return module.linkingResolveUser
}

const linkingResolveUser = await documentedResolveUser()
const world = await AlipayWorld.create(t, 'alipay-ids', 'user_id')
const { sandbox } = world
// One person, as Alipay knows them: the same account, so the same ids on every code.
const person = { userId: '2088000000001234', openId: '074a1b2c3d4e5f60718293a4b5c6d7e8f9' }
const stranger = { userId: '2088000000005678', openId: '074ffffffffffffffffffffffffffffff0' }

/** Logs `who` in under each identity mode in turn and gives the user id of each login. */
async function migrate (resolveUser: ResolveUser | undefined, who: typeof person): Promise<Array<{ mode: string, id: string, identity: Identity }>> {
  const seen: Identity[] = []
  const app = await world.build(world.options(), {
    resolveUser: async (identity, request) => {
      seen.push(identity)
      return resolveUser ? resolveUser(identity, request) : { id: `alipay:${identity.appId}:${identity.openId ?? identity.alipayUserId}` }
    }
  })
  const ids = []
  for (const mode of ['user_id', 'both', 'open_id'] as const) {
    sandbox.setIdentityMode(ALIPAY_APP_ID, mode)
    const res = await world.login(app, { authCode: sandbox.issueAuthCode(who) })
    if (res.statusCode !== 200) throw new Error(`${mode}: ${res.body}`)
    // The session says who it is, as an authenticated request sees it.
    const session = await app.sessions.get(res.json.skey as string)
    ids.push({ mode, id: String(session?.user.id), identity: seen.at(-1) as Identity })
  }
  return ids
}

t.test('the sandbox moves an app through the three phases', async (t) => {
  const phases = await migrate(undefined, person)
  t.same(phases.map(({ identity }) => identity), [
    { provider: 'alipay', surface: 'miniprogram', appId: ALIPAY_APP_ID, alipayUserId: person.userId },
    { provider: 'alipay', surface: 'miniprogram', appId: ALIPAY_APP_ID, openId: person.openId, alipayUserId: person.userId },
    { provider: 'alipay', surface: 'miniprogram', appId: ALIPAY_APP_ID, openId: person.openId }
  ])
  // Why the documented resolveUser exists: the default id (open_id ?? user_id) changes at the validation phase.
  t.same(phases.map(({ id }) => id), [`alipay:${ALIPAY_APP_ID}:${person.userId}`, `alipay:${ALIPAY_APP_ID}:${person.openId}`, `alipay:${ALIPAY_APP_ID}:${person.openId}`],
    'the default id splits the person')
  t.throws(() => sandbox.setIdentityMode('2021000000000999', 'both'), /no registered app/)
})

t.test('the documented resolveUser keeps one user through user_id only, both, open_id only', async (t) => {
  const prefix = `${world.prefix}links:`
  const resolveUser = linkingResolveUser(world.redis, prefix) as ResolveUser
  const phases = await migrate(resolveUser, person)
  const expected = `alipay:${ALIPAY_APP_ID}:${person.userId}`
  t.same(phases.map(({ mode, id }) => [mode, id]), [['user_id', expected], ['both', expected], ['open_id', expected]],
    'the same app user id in every phase: the one the default gave before the switch')
  t.same(await world.redis.mget(`${prefix}uid:${ALIPAY_APP_ID}:${person.userId}`, `${prefix}oid:${ALIPAY_APP_ID}:${person.openId}`), [expected, expected],
    'both ids are linked to it')

  const other = await migrate(resolveUser, stranger)
  t.same(new Set(other.map(({ id }) => id)), new Set([`alipay:${ALIPAY_APP_ID}:${stranger.userId}`]), 'another person stays another user')

  // Someone who first comes after the switch gets the id the default gives them.
  sandbox.setIdentityMode(ALIPAY_APP_ID, 'open_id')
  const newcomer = await resolveUser({ provider: 'alipay', appId: ALIPAY_APP_ID, openId: '074000000000000000000000000000new' }, undefined as never)
  t.same(newcomer, { id: `alipay:${ALIPAY_APP_ID}:074000000000000000000000000000new` })

  // Concurrent first logins of one person in the validation phase agree.
  const both = { provider: 'alipay' as const, appId: ALIPAY_APP_ID, openId: '074000000000000000000000000000dup', alipayUserId: '2088000000009999' }
  const ids = await Promise.all([1, 2, 3, 4].map(async () => resolveUser(both, undefined as never)))
  t.same(new Set(ids.map((user) => user.id)), new Set([`alipay:${ALIPAY_APP_ID}:2088000000009999`]))
})
