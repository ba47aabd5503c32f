import { Type } from 'typebox'
import { sessionKeyRoutes } from './session-key-routes.js'

// swan.getLoginCode codes have no documented format; a code with '@' goes to an open-source host app (Baidu's docs). 256 is our choice (docs/baidu.md).
const Code = Type.String({ minLength: 1, maxLength: 256, description: 'The code from swan.getLoginCode (single use).' })

/** POST /baidu/login, /baidu/userinfo and /baidu/phone. */
export default sessionKeyRoutes({ provider: 'baidu', loginCall: 'swan.getLoginCode', userInfoCall: 'swan.getUserInfo', code: Code })
