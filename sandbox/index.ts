// Local stand-ins for WeChat, Alipay, Douyin and QQ, for the demo and for your own tests:
//   import { createWechatSandbox, createAlipaySandbox, createDouyinSandbox, createQqSandbox } from 'fastify-miniprogram-auth/sandbox'
export * from './wechat.js'
export * from './alipay.js'
export { bareBase64, certificateSn, generateRsaKeyPair, rootCertificateSn } from './keys.js'
export { formatChinaTime } from './china-time.js'
export type { Sandbox, SandboxFault } from './kit.js'
export * from './douyin.js'
export * from './qq.js'
