// Browser stand-ins for the mini-program objects `wx`, `my`, `tt`, `qq`, `ks`,
// `swan` and WeCom's `wx.qy`,
// with the same callback APIs and the same differences (header/statusCode vs
// headers/status, storage by key vs by object, my.request failing on a
// non-2xx status, tt.getStorageSync throwing for a key it does not have), so
// the client helper runs here unchanged. What the phone itself does (the
// login calls, user info, the phone number buttons) is played by the demo's
// sandboxes through /demo/*.

// A whole 43-character base64url token, not a slice of a longer code.
const SKEY = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g

/** Shows an skey as its first characters: enough to tell two apart. */
export function shorten (text) {
  return text.replace(SKEY, (skey) => `${skey.slice(0, 6)}…`)
}

function parseJson (text) {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** What the simulated phone asks the sandbox for. */
async function sandbox (path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const reply = await response.json()
  if (!response.ok) throw new Error(reply.message ?? `HTTP ${response.status}`)
  return reply
}

/**
 * One HTTP exchange as the platform's request API makes it; `log` sees the
 * request and the reply exactly as they travel.
 */
async function exchange ({ url, method = 'GET', data, headers }, log) {
  const path = new URL(url, window.location.href).pathname
  log('request', `${method} ${path}`, { headers, body: typeof data === 'string' ? parseJson(data) : data })
  // Objects go as JSON, as tt.request sends the object the helper gives it.
  const body = data === undefined || typeof data === 'string' ? data : JSON.stringify(data)
  const response = await fetch(url, { method, headers, body })
  const text = await response.text()
  log(response.ok ? 'reply' : 'error', `${response.status} ${method} ${path}`, text === '' ? undefined : parseJson(text))
  return { status: response.status, text, headers: Object.fromEntries(response.headers) }
}

/** The phone's storage, in localStorage under a prefix of its own; what the page reads and plants directly. */
function phoneStorage (prefix) {
  return {
    get: (key) => localStorage.getItem(prefix + key),
    set: (key, data) => localStorage.setItem(prefix + key, data),
    remove: (key) => localStorage.removeItem(prefix + key)
  }
}

/**
 * A platform call played by the sandbox: `path` answers, `show` picks what
 * the log shows, `result` what `success` gets; a refusal fails as the platform
 * fails (`failure(message)`).
 */
function played (path, body, { log, title, show = (reply) => reply, result = (reply) => reply, failure }) {
  return ({ success, fail }) => {
    sandbox(path, body).then((reply) => {
      log('platform', title, show(reply))
      success(result(reply))
    }, (err) => fail(failure(err.message)))
  }
}

/**
 * Request and storage as wx, tt and qq have them: `header` in, `statusCode`
 * and `header` out, success for any HTTP status, storage by key. `missing` is
 * what reading a key never written does.
 */
function keyedPlatform (store, log, missing) {
  return {
    request ({ url, method, data, header, dataType = 'json', success, fail }) {
      exchange({ url, method, data, headers: header }, log).then(({ status, text, headers }) => {
        success({ data: dataType === 'json' ? parseJson(text) : text, statusCode: status, header: headers })
      }, (err) => fail({ errMsg: `request:fail ${err.message}` }))
    },
    getStorageSync: (key) => store.get(key) ?? missing(key),
    setStorageSync: (key, data) => store.set(key, data),
    removeStorageSync: (key) => store.remove(key)
  }
}

/** The encrypted user info, shown shortened in the log. */
const userInfoLog = (info) => ({ rawData: info.rawData, signature: info.signature, iv: info.iv, encryptedData: `${info.encryptedData.slice(0, 24)}…` })
const failWith = (call) => (message) => ({ errMsg: `${call}:fail ${message}` })

function createWx ({ user, log }, store) {
  return {
    ...keyedPlatform(store, log, () => ''),
    login: (options) => played('/demo/wechat/code', { user: user() }, { log, title: 'wx.login', result: ({ code }) => ({ code, errMsg: 'login:ok' }), failure: failWith('login') })(options),
    /** wx.getUserInfo: the profile, and the same encrypted and signed for the server. */
    getUserInfo: (options) => played('/demo/wechat/userinfo', { user: user() }, { log, title: 'wx.getUserInfo', show: userInfoLog, failure: failWith('getUserInfo') })(options),
    /** What <button open-type="getPhoneNumber"> hands the page: a code for the server. */
    getPhoneNumber: (options) => played('/demo/wechat/phone-code', { user: user() }, {
      log, title: 'getPhoneNumber button', result: ({ code }) => ({ code, errMsg: 'getPhoneNumber:ok' }), failure: failWith('getPhoneNumber')
    })(options)
  }
}

function createMy ({ user, log }, store) {
  const failure = (message) => ({ error: 11, errorMessage: message })
  return {
    getAuthCode: ({ scopes, ...options }) => played('/demo/alipay/auth-code', { user: user(), scope: scopes }, { log, title: `my.getAuthCode (${scopes})`, failure })(options),
    request ({ url, method, data, headers, dataType = 'json', success, fail }) {
      exchange({ url, method, data, headers }, log).then(({ status, text, headers: replyHeaders }) => {
        const reply = { data: dataType === 'json' ? parseJson(text) : text, status, headers: replyHeaders }
        // As Alipay does: a non-2xx status is a failure (error 19), the reply attached.
        if (status >= 200 && status < 300) success(reply)
        else fail({ error: 19, errorMessage: 'http status error', ...reply })
      }, (err) => fail({ error: 12, errorMessage: err.message }))
    },
    getStorageSync: ({ key }) => ({ data: store.get(key) ?? undefined }),
    setStorageSync: ({ key, data }) => store.set(key, data),
    removeStorageSync: ({ key }) => store.remove(key),
    /** my.getPhoneNumber, after the user allowed it: `response`, signed and encrypted for the server. */
    getPhoneNumber: (options) => played('/demo/alipay/phone', { user: user() }, {
      log, title: 'my.getPhoneNumber', show: ({ response }) => ({ response: `${response.slice(0, 60)}…` }), failure
    })(options)
  }
}

function createTt ({ user, log }, store) {
  return {
    // tt.getStorageSync throws for a key it does not have.
    ...keyedPlatform(store, log, (key) => { throw new Error(`getStorageSync:fail data not found, key == ${key}`) }),
    // Whatever `force` is, the demo's guest stays logged out of Douyin (declines its login dialog): only an anonymousCode.
    login: (options) => played('/demo/douyin/login', { user: user() }, {
      log, title: 'tt.login', result: (codes) => ({ ...codes, errMsg: 'login:ok' }), failure: failWith('login')
    })(options),
    getUserInfo: (options) => played('/demo/douyin/userinfo', { user: user() }, { log, title: 'tt.getUserInfo', show: userInfoLog, failure: failWith('getUserInfo') })(options),
    /** What <button open-type="getPhoneNumber"> hands the page on Douyin from base library 3.51.0: a code for the server. */
    getPhoneNumber: (options) => played('/demo/douyin/phone', { user: user() }, {
      log, title: 'getPhoneNumber button', result: ({ code }) => ({ code, errMsg: 'getPhoneNumber:ok' }), failure: failWith('getPhoneNumber')
    })(options)
  }
}

function createQq ({ user, log }, store) {
  return {
    ...keyedPlatform(store, log, () => ''),
    login: (options) => played('/demo/qq/code', { user: user() }, { log, title: 'qq.login', result: ({ code }) => ({ code, errMsg: 'login:ok' }), failure: failWith('login') })(options),
    getUserInfo: (options) => played('/demo/qq/userinfo', { user: user() }, { log, title: 'qq.getUserInfo', show: userInfoLog, failure: failWith('getUserInfo') })(options)
  }
}

/** wx inside WeCom: wx.qy.login gives a code for the corp member (wx.login would give a WeChat one). */
function createWecom ({ user, log }, store) {
  return {
    ...keyedPlatform(store, log, () => ''),
    qy: {
      login: (options) => played('/demo/wecom/code', { user: user() }, { log, title: 'wx.qy.login', result: ({ code }) => ({ code, errMsg: 'qy__login:ok' }), failure: failWith('qy__login') })(options)
    }
  }
}

/** ks and swan: a login call for a code, user info and the phone button's data sealed with the session_key. */
function sessionKeyPlatform (platform, loginCall, loginName) {
  return ({ user, log }, store) => ({
    ...keyedPlatform(store, log, () => ''),
    [loginName]: (options) => played(`/demo/${platform}/code`, { user: user() }, { log, title: loginCall, result: ({ code }) => ({ code, errMsg: 'login:ok' }), failure: failWith('login') })(options),
    // swan.getUserInfo names its ciphertext `data`: the shim hands it over as encryptedData, as the route takes it.
    getUserInfo: (options) => played(`/demo/${platform}/userinfo`, { user: user() }, { log, title: `${loginCall.split('.')[0]}.getUserInfo`, show: ({ iv, userInfo }) => ({ iv, userInfo }), failure: failWith('getUserInfo') })(options),
    getPhoneNumber: (options) => played(`/demo/${platform}/phone`, { user: user() }, {
      log, title: 'getPhoneNumber button', show: ({ iv }) => ({ iv, encryptedData: '…' }), result: (data) => ({ ...data, errMsg: 'getPhoneNumber:ok' }), failure: failWith('getPhoneNumber')
    })(options)
  })
}

const FACTORIES = {
  wechat: ['wx', createWx],
  alipay: ['my', createMy],
  douyin: ['tt', createTt],
  qq: ['qq', createQq],
  wecom: ['wecom', createWecom],
  kuaishou: ['ks', sessionKeyPlatform('kuaishou', 'ks.login', 'login')],
  baidu: ['swan', sessionKeyPlatform('baidu', 'swan.getLoginCode', 'getLoginCode')]
}

/**
 * The platform object of `platform` and the phone's storage behind it.
 * `user()` names the sandbox user; `log(kind, title, data)` records each step.
 */
export function createPlatform (platform, options) {
  const [global, create] = FACTORIES[platform]
  const storage = phoneStorage(`${global}:`)
  return { api: create(options, storage), storage }
}
