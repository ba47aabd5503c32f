// Browser stand-ins for the mini-program `wx` and `my` objects, with the same
// callback APIs and the same differences (header/statusCode vs
// headers/status, storage by key vs by object, my.request failing on a
// non-2xx status), so the client helper runs here unchanged. What the phone
// itself does (wx.login, my.getAuthCode, wx.getUserInfo, the phone number
// button) is played by the demo's sandboxes through /demo/*.

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
async function phone (path, body) {
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
  log('request', `${method} ${path}`, { headers, body: data === undefined ? undefined : parseJson(data) })
  const response = await fetch(url, { method, headers, body: data })
  const text = await response.text()
  log(response.ok ? 'reply' : 'error', `${response.status} ${method} ${path}`, text === '' ? undefined : parseJson(text))
  return { status: response.status, text, headers: Object.fromEntries(response.headers) }
}

function storage (prefix) {
  return {
    get: (key) => localStorage.getItem(prefix + key),
    set: (key, data) => localStorage.setItem(prefix + key, data),
    remove: (key) => localStorage.removeItem(prefix + key)
  }
}

/** `user()` names the sandbox user; `log(kind, title, data)` records each step. */
export function createWx ({ user, log }) {
  const store = storage('wx:')
  return {
    login ({ success, fail }) {
      phone('/demo/wechat/code', { user: user() }).then(({ code }) => {
        log('platform', 'wx.login', { code })
        success({ code, errMsg: 'login:ok' })
      }, (err) => fail({ errMsg: `login:fail ${err.message}` }))
    },
    request ({ url, method, data, header, dataType = 'json', success, fail }) {
      exchange({ url, method, data, headers: header }, log).then(({ status, text, headers }) => {
        success({ data: dataType === 'json' ? parseJson(text) : text, statusCode: status, header: headers })
      }, (err) => fail({ errMsg: `request:fail ${err.message}` }))
    },
    getStorageSync: (key) => store.get(key) ?? '',
    setStorageSync: (key, data) => store.set(key, data),
    removeStorageSync: (key) => store.remove(key),
    /** wx.getUserInfo: the profile, and the same encrypted and signed for the server. */
    getUserInfo ({ success, fail }) {
      phone('/demo/wechat/userinfo', { user: user() }).then((info) => {
        log('platform', 'wx.getUserInfo', { rawData: info.rawData, signature: info.signature, iv: info.iv, encryptedData: `${info.encryptedData.slice(0, 24)}…` })
        success(info)
      }, (err) => fail({ errMsg: `getUserInfo:fail ${err.message}` }))
    },
    /** What <button open-type="getPhoneNumber"> hands the page: a code for the server. */
    getPhoneNumber ({ success, fail }) {
      phone('/demo/wechat/phone-code', { user: user() }).then(({ code }) => {
        log('platform', 'getPhoneNumber button', { code })
        success({ code, errMsg: 'getPhoneNumber:ok' })
      }, (err) => fail({ errMsg: `getPhoneNumber:fail ${err.message}` }))
    }
  }
}

export function createMy ({ user, log }) {
  const store = storage('my:')
  return {
    getAuthCode ({ scopes, success, fail }) {
      phone('/demo/alipay/auth-code', { user: user(), scope: scopes }).then(({ authCode }) => {
        log('platform', `my.getAuthCode (${scopes})`, { authCode })
        success({ authCode })
      }, (err) => fail({ error: 11, errorMessage: err.message }))
    },
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
    removeStorageSync: ({ key }) => store.remove(key)
  }
}
