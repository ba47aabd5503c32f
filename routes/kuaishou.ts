import { Type } from 'typebox'
import { sessionKeyRoutes } from './session-key-routes.js'

// ks.login codes have no documented format: WeChat's limit, 128, is our choice (docs/kuaishou.md).
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from ks.login (single use).' })

/** POST /kuaishou/login, /kuaishou/userinfo and /kuaishou/phone. */
export default sessionKeyRoutes({ provider: 'kuaishou', loginCall: 'ks.login', userInfoCall: 'ks.getUserInfo', code: Code })
