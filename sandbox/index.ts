// Local stand-ins for WeChat and Alipay, for the demo and for your own tests:
//   import { createWechatSandbox, createAlipaySandbox } from 'fastify-miniprogram-auth/sandbox'
export * from './wechat.js'
export * from './alipay.js'
