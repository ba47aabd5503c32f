// `npm start`: the demo app, with a mini-program simulator page and API docs.
import closeWithGrace from 'close-with-grace'
import { redactPaths } from '../../index.js'
import { DemoExit, startDemo, type Demo } from './app.js'

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
  const { code } = err as { code?: string }
  if (err instanceof DemoExit) console.error(err.message)
  else if (code === 'EADDRINUSE') console.error(`Port ${port} on ${host} is taken by another program: start the demo on another one, e.g. PORT=3001 npm start.`)
  else if (code === 'EADDRNOTAVAIL') console.error(`HOST ${host} is not an address of this machine: unset HOST, or give one of its addresses.`)
  else throw err
  process.exit(1)
}

const upstream = (name: string, mode: string) => mode === 'sandbox' ? `${name}: local sandbox` : `${name}: real ${name} (credentials from the environment)`
console.log([
  'fastify-miniprogram-auth demo',
  `  simulator page   ${demo.url}/`,
  `  API docs         ${demo.url}/docs  (OpenAPI: ${demo.url}/docs/json)`,
  `  ${upstream('WeChat', demo.modes.wechat)}; ${upstream('Alipay', demo.modes.alipay)}`,
  `  sessions in ${demo.redisDescription}`,
  'Ctrl+C stops it.'
].join('\n'))

closeWithGrace({ delay: 5000 }, async ({ signal, err }) => {
  if (err) console.error(err)
  else console.log(`${signal ?? 'exit'}: closing the server, the sandboxes and Redis`)
  await demo.close()
})
