// `npm start`: the demo app, with a mini-program simulator page and API docs.
import closeWithGrace from 'close-with-grace'
import type { AddressInfo } from 'node:net'
import { redactPaths } from '../../index.js'
import { DemoExit, isLoopback, PLATFORMS, setupProblem, startDemo, type Demo, type PlatformName } from './app.js'

const env = process.env
const port = env.PORT === undefined ? 3000 : Number(env.PORT)
const host = env.HOST ?? '127.0.0.1'

let demo: Demo
try {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DemoExit(`PORT must be a port number (got ${JSON.stringify(env.PORT)}).`)
  demo = await startDemo({
    port,
    host,
    env,
    redis: { url: env.REDIS_URL },
    logger: { level: env.LOG_LEVEL ?? 'warn', redact: redactPaths }
  })
} catch (err) {
  // Expected setup problems get one paragraph, not a stack trace.
  const problem = setupProblem(err, port, host)
  if (problem === undefined) throw err
  console.error(problem)
  process.exit(1)
}

// The address it listens on, not HOST: `localhost` is fine, `0.0.0.0` is not.
// Said before the banner, whose last line tells a reader the start is over.
if (!isLoopback((demo.app.server.address() as AddressInfo).address)) {
  console.warn(`Warning: with HOST=${host} other machines can reach the demo. Its simulator (/demo/*) answers them 403, as it hands out ` +
    'login codes for the demo users: the simulator page works only on this machine. Unset HOST to keep the whole demo on 127.0.0.1.')
}
const upstreams = (Object.keys(PLATFORMS) as PlatformName[]).map((name) => {
  const { title } = PLATFORMS[name]
  return demo.modes[name] === 'sandbox' ? `${title}: local sandbox` : `${title}: real ${title} (credentials from the environment)`
})
console.log([
  'fastify-miniprogram-auth demo',
  `  simulator page   ${demo.url}/`,
  `  API docs         ${demo.url}/docs  (OpenAPI: ${demo.url}/docs/json)`,
  `  ${upstreams.join('; ')}`,
  `  sessions in ${demo.redisDescription}`,
  'Ctrl+C stops it.'
].join('\n'))

closeWithGrace({ delay: 5000 }, async ({ signal, err }) => {
  if (err) console.error(err)
  else console.log(`${signal ?? 'exit'}: closing the server, the sandboxes and Redis`)
  await demo.close()
})
