import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify'
import { Redis } from 'ioredis'
import miniprogramAuth from '../../index.js'
import { AppModule } from './app.module.js'

// A Nest app on @nestjs/platform-fastify with the plugin (docs/nestjs.md).
// Configured by the environment: REDIS_URL, WECHAT_APP_ID, WECHAT_APP_SECRET,
// and for the tests WECHAT_BASE_URL (a sandbox), MPA_KEY_PREFIX and PORT.

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
redis.on('error', (err) => { console.error(`redis: ${err.message}`) })

const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter({ logger: true }))
await app.register(miniprogramAuth, {
  redis,
  keyPrefix: process.env.MPA_KEY_PREFIX ?? 'mpa:',
  wechat: {
    appId: process.env.WECHAT_APP_ID!,
    appSecret: process.env.WECHAT_APP_SECRET!,
    ...(process.env.WECHAT_BASE_URL ? { baseUrl: process.env.WECHAT_BASE_URL } : {})
  }
})
process.once('SIGTERM', () => {
  void app.close().finally(() => { redis.disconnect() })
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`listening on ${await app.getUrl()}`)
