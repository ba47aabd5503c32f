// uni-app and Taro reshape every platform's calls into wx's: one wx-shaped
// object, whatever the build target. What still differs per target is here:
// the server's routes, the JSON body and dataType its request takes, what the
// login route wants from the login call's result, and the phone number button.

import { fromButton, type LoginContext, type PlatformAdapter } from '../platform.js'
import { douyinLoginBody, douyinPhoneBody, jsonObject } from './douyin.js'
import { jsonText, wxStyle, type WxStyleApi } from './wx-style.js'

/** What a framework's login call gives: wx's `code` (Alipay's authCode under that name), and on Douyin `anonymousCode`. */
export interface FrameworkLoginResult {
  code?: string
  anonymousCode?: string
}

export type FrameworkTarget = 'wechat' | 'alipay' | 'douyin' | 'qq' | 'baidu' | 'kuaishou'

interface Target {
  dataType: string
  body: (json: unknown) => string | object
  loginBody: (result: FrameworkLoginResult, context: LoginContext) => Record<string, unknown>
  scoped?: true
  phoneBody?: PlatformAdapter['phoneBody']
}

/** The getPhoneNumber button's encrypted data (Kuaishou, Baidu). */
const encryptedPhoneBody = fromButton(['encryptedData', 'iv'])

const codeOnly = ({ code }: FrameworkLoginResult): Record<string, unknown> => ({ code })

const TARGETS: Record<FrameworkTarget, Target> = {
  wechat: { dataType: 'text', body: jsonText, loginBody: codeOnly, phoneBody: fromButton(['code'], ['encryptedData', 'iv']) },
  alipay: { dataType: 'text', body: jsonText, loginBody: ({ code }, { scope }) => ({ authCode: code, scope }), scoped: true },
  douyin: { dataType: 'string', body: jsonObject, loginBody: douyinLoginBody, phoneBody: douyinPhoneBody },
  qq: { dataType: 'text', body: jsonText, loginBody: codeOnly },
  baidu: { dataType: 'string', body: jsonText, loginBody: codeOnly, phoneBody: encryptedPhoneBody },
  kuaishou: { dataType: 'text', body: jsonText, loginBody: codeOnly, phoneBody: encryptedPhoneBody }
}

/** A framework's object bound for one build target; `login` runs the framework's login call with what that target needs. */
export function frameworkAdapter (
  framework: string,
  target: FrameworkTarget,
  api: WxStyleApi<string | object>,
  login: (context: LoginContext) => Promise<FrameworkLoginResult>
): PlatformAdapter {
  const { dataType, body, loginBody, scoped, phoneBody } = TARGETS[target]
  return {
    name: target,
    loginCall: `${framework}.login`,
    login: async (context) => loginBody(await login(context), context),
    ...(scoped ? { scoped } : {}),
    ...wxStyle(api, { dataType, body }),
    ...(phoneBody ? { phoneBody } : {})
  }
}

/** The TypeError for a build target with no mini-program login (H5, App…): said at once, not as an obscure failure later. */
export function noMiniprogramLogin (framework: string, target: unknown): TypeError {
  return new TypeError(`${framework}'s ${JSON.stringify(target)} build has no mini-program login: create the auth client only in mini-program builds, or pass your own adapter as platform (docs/client.md)`)
}
