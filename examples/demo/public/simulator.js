// The simulator page: one phone per platform, each running the client helper
// (/client/index.js, built from client/index.ts) over a shim of its platform
// object. What differs between the platforms is in PLATFORMS.
import { createAuthClient } from '/client/index.js'
import { createPlatform, shorten } from '/shim.js'

const STORAGE_KEY = 'mpa:skey'

/** Promise form of a callback-style platform call. */
function call (fn, options = {}) {
  return new Promise((resolve, reject) => fn({ ...options, success: resolve, fail: reject }))
}

/**
 * Per platform: its names, its login call (`code`, for the "1 ·" button),
 * how its request call takes headers (for "Replay an old code"), and what it
 * has besides logging in: user info to decrypt, a phone number button
 * (`phone` gives what the client's phoneNumber() takes), Alipay's scopes.
 */
const PLATFORMS = {
  wechat: {
    title: 'WeChat',
    app: '微信小程序',
    codeStep: 'wx.login',
    code: async (api) => (await call(api.login)).code,
    headers: 'header',
    userInfo: true,
    phone: (api) => call(api.getPhoneNumber),
    // Scan login: this phone scans the PC pane's code and confirms.
    scan: true
  },
  alipay: {
    title: 'Alipay',
    app: '支付宝小程序',
    codeStep: 'my.getAuthCode',
    code: async (api, scope) => (await call(api.getAuthCode, { scopes: scope })).authCode,
    headers: 'headers',
    scopes: true,
    // The helper calls my.getPhoneNumber itself.
    phone: async () => undefined
  },
  douyin: {
    title: 'Douyin',
    app: '抖音小程序',
    codeStep: 'tt.login',
    code: async (api) => {
      const { code, anonymousCode } = await call(api.login)
      return code ?? anonymousCode
    },
    headers: 'header',
    userInfo: true,
    phone: (api) => call(api.getPhoneNumber)
  },
  qq: {
    title: 'QQ',
    app: 'QQ小程序',
    codeStep: 'qq.login',
    code: async (api) => (await call(api.login)).code,
    headers: 'header',
    userInfo: true
  },
  wecom: {
    title: 'WeCom',
    app: '企业微信小程序',
    codeStep: 'wx.qy.login',
    code: async (api) => (await call(api.qy.login)).code,
    headers: 'header'
  },
  kuaishou: sessionKeyPane('Kuaishou', '快手小程序', 'ks.login', 'login'),
  baidu: sessionKeyPane('Baidu', '百度智能小程序', 'swan.getLoginCode', 'getLoginCode')
}

/** Kuaishou's and Baidu's panes: a login call for a code, user info and the phone button's encrypted data. */
function sessionKeyPane (title, app, codeStep, loginName) {
  return { title, app, codeStep, code: async (api) => (await call(api[loginName])).code, headers: 'header', userInfo: true, phone: (api) => call(api.getPhoneNumber) }
}

function element (tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  node.append(...children)
  return node
}

/**
 * What WeChat's scanner hands the page a code opens: the scene (URL-encoded,
 * as in onLoad's query). The sandbox's code is a QR code of the scene, which
 * jsQR (/vendor/jsqr.js) reads off the PC pane's picture.
 */
async function scanPcCode () {
  const image = document.querySelector('#pc [data-testid="qr"]')
  if (!image || image.closest('[hidden]') || !image.src) throw new Error('No code on the PC: click "Log in with the WeChat mini-program" in the PC website pane first.')
  await image.decode()
  const canvas = document.createElement('canvas')
  canvas.width = image.naturalWidth
  canvas.height = image.naturalHeight
  const context = canvas.getContext('2d')
  context.drawImage(image, 0, 0)
  const read = window.jsQR(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height)
  if (!read) throw new Error('The code could not be read.')
  return { scene: encodeURIComponent(read.data) }
}

const show = (value) => shorten(typeof value === 'string' ? value : JSON.stringify(value, null, 2))

function phonePanel (platform, config) {
  const { title, app, codeStep, code, headers, userInfo, phone, scopes, scan } = PLATFORMS[platform]
  const sandboxed = config.mode === 'sandbox'
  const userSelect = element('select', { 'data-testid': 'user' }, ...config.users.map(({ key, label }) => element('option', { value: key }, label)))
  const scopeSelect = element('select', { 'data-testid': 'scope' },
    element('option', { value: 'auth_base' }, 'auth_base (silent)'), element('option', { value: 'auth_user' }, 'auth_user (profile)'))
  const status = element('div', { class: 'status', 'data-testid': 'status' })
  const result = element('pre', { class: 'result', 'data-testid': 'result' })
  const log = element('ol', { class: 'log', 'data-testid': 'log' })

  function addLog (kind, heading, data) {
    // Every login, the helper's own re-logins included: its body for "replay
    // an old code", its user for the status line.
    if (heading.endsWith('/login')) {
      if (kind === 'request') lastLogin = data.body
      if (kind === 'reply') loggedInAs = data.user.nickName ?? data.user.id
    }
    const entry = element('li', { class: kind }, element('b', {}, heading))
    if (data !== undefined) entry.append(element('code', {}, show(data)))
    log.prepend(entry)
  }

  // What the buttons "replay an old code" and "use a revoked skey" replay.
  let lastLogin = null
  let revokedSkey = null
  // The scan-login ticket this phone scanned last.
  let scannedTicket = null
  let loggedInAs = null
  const { api, storage } = createPlatform(platform, { user: () => userSelect.value, log: addLog })
  const client = createAuthClient({
    baseUrl: window.location.origin,
    platform,
    api,
    storageKey: STORAGE_KEY,
    // A session the server ended (revoked, replaced, banned) is not logged in again: the app says why.
    onSessionEnd: (end) => addLog('step', `■ the session ended: ${end.reason} (${end.code}); the helper does not log in again on its own`)
  })

  function refreshStatus () {
    const skey = client.skey()
    status.textContent = skey ? `Logged in${loggedInAs ? ` as ${loggedInAs}` : ''} · skey ${shorten(skey)}` : 'Not logged in'
    status.classList.toggle('in', Boolean(skey))
  }

  function setResult (outcome, value) {
    result.className = `result ${outcome}`
    result.textContent = show(value)
  }

  async function forget (everywhere) {
    revokedSkey = client.skey()
    await client.logout({ everywhere })
    loggedInAs = null
    return everywhere ? 'Logged out on every device' : 'Logged out on this device'
  }

  const actions = {
    code: async () => ({ code: await code(api, scopeSelect.value), note: `a one-time code from ${codeStep}; "Log in" gets a fresh one` }),
    login: () => client.login({ scope: scopeSelect.value }),
    profile: () => client.request({ url: '/api/profile' }),
    order: () => client.request({ url: '/api/orders', method: 'POST', data: { item: '☕ Flat white', quantity: 2 } }),
    userinfo: async () => {
      const { encryptedData, iv, rawData, signature } = await call(api.getUserInfo)
      const profile = await client.request({ url: `/auth/${platform}/userinfo`, method: 'POST', data: { encryptedData, iv, rawData, signature } })
      // The status line names the user by the nickname they now gave, not the default id.
      if (typeof profile.nickName === 'string' && profile.nickName !== '') loggedInAs = profile.nickName
      return profile
    },
    phone: async () => client.phoneNumber(await phone(api)),
    devices: async () => {
      const { sessions } = await client.request({ url: '/auth/sessions' })
      return sessions.map(({ id, current, createdAt }) => `${current ? '▶ this device' : '  other device'} ${id.slice(0, 8)}… since ${new Date(createdAt).toLocaleTimeString()}`).join('\n')
    },
    scanPc: async () => {
      const ticket = client.scanTicket(await scanPcCode())
      if (!ticket) throw new Error('This code is not a scan-login code.')
      const { requester, expiresAt } = await client.scanned(ticket)
      scannedTicket = ticket
      return { asks: `a browser on ${requester.device ?? 'an unknown device'} at ${requester.ip ?? 'an unknown address'}`, until: new Date(expiresAt).toLocaleTimeString(), next: 'Confirm or Refuse' }
    },
    confirmPc: () => scannedTicket ? client.confirm(scannedTicket) : Promise.reject(new Error('Scan the PC\'s code first.')),
    refusePc: () => scannedTicket ? client.refuse(scannedTicket) : Promise.reject(new Error('Scan the PC\'s code first.')),
    logout: () => forget(false),
    logoutAll: () => forget(true),
    replay: async () => {
      if (!lastLogin) throw new Error('Log in first: this replays the code of the last login.')
      // Straight through the platform API, as a client retrying a lost reply would.
      const options = { url: `/auth/${platform}/login`, method: 'POST', data: JSON.stringify(lastLogin), [headers]: { 'content-type': 'application/json' } }
      // my.request fails on a 401 with the reply attached: either way, show the reply.
      const reply = await call(api.request, options).catch((failure) => failure)
      const note = `within ${config.codeReplayWindow} of the login: the same session (retry-safe); later: MPA_CODE_INVALID`
      const statusCode = reply.statusCode ?? reply.status
      // A late replay is refused by the platform: its code says it all, the platform's own words
      // (errmsg, request id) are for the server's log, not for a user's screen.
      return reply.data?.skey ? { statusCode, ...reply.data, note } : { statusCode, code: reply.data?.code, note }
    },
    revoked: async () => {
      if (!revokedSkey) throw new Error('Log out first: this sends the skey that logout revoked.')
      storage.set(STORAGE_KEY, revokedSkey)
      // 401 MPA_SESSION_REVOKED: unlike an expired session's 401, no re-login follows.
      return client.request({ url: '/api/profile' })
    }
  }

  const buttons = [
    ['code', `1 · ${codeStep}`], ['login', '2 · Log in'], ['profile', 'GET /api/profile'], ['order', 'POST /api/orders'],
    ...(userInfo ? [['userinfo', 'Decrypt user info']] : []),
    ...(phone ? [['phone', 'Get phone number']] : []),
    ...(scan ? [['scanPc', 'Scan the PC\'s code'], ['confirmPc', 'Confirm PC login'], ['refusePc', 'Refuse PC login']] : []),
    ['devices', 'List devices'], ['logout', 'Log out'], ['logoutAll', 'Log out everywhere'],
    ['replay', 'Replay an old code'], ['revoked', 'Use a revoked skey']
  ].map(([action, label]) => {
    const button = element('button', { type: 'button', 'data-action': action }, label)
    button.disabled = !sandboxed
    button.addEventListener('click', async () => {
      addLog('step', `▸ ${label}`)
      try {
        setResult('ok', await actions[action]())
      } catch (err) {
        // The helper's errors have a code; a platform call fails with errMsg (wx, tt, qq) or errorMessage (my).
        setResult('failed', err.code ? `${err.statusCode} ${err.code}\n${err.message}` : err.message ?? err.errMsg ?? err.errorMessage ?? String(err))
      }
      refreshStatus()
    })
    return button
  })

  userSelect.addEventListener('change', () => {
    // Another person on the phone: the stored skey is not theirs.
    storage.remove(STORAGE_KEY)
    loggedInAs = null
    addLog('step', `▸ switched to ${userSelect.selectedOptions[0].textContent}: the local skey is forgotten`)
    refreshStatus()
  })

  const controls = element('div', { class: 'controls' },
    element('label', {}, 'User ', userSelect),
    ...(scopes ? [element('label', {}, 'Scope ', scopeSelect)] : []))
  const notice = sandboxed
    ? element('p', { class: 'hint' }, `Sandbox app ${config.appId}. Each button is one step of the real flow; the log below shows every request and reply.`)
    : element('p', { class: 'hint real' }, `Real ${title} (app ${config.appId}): login codes come only from a real mini-program, so the simulator is off. Use the client helper in your mini-program against this server.`)

  refreshStatus()
  return element('section', { class: `phone ${platform}`, 'data-platform': platform },
    element('div', { class: 'notch' }),
    element('header', {}, element('span', { class: 'app' }, app), element('h2', {}, `${title} mini-program`)),
    status, notice, controls,
    element('div', { class: 'buttons' }, ...buttons),
    result,
    element('h3', {}, 'Requests and replies'),
    log)
}

const response = await fetch('/demo/config')
const config = await response.json()
const phones = document.querySelector('#phones')
// From another machine the simulator answers 403: say why instead of showing dead phones.
if (!response.ok) {
  phones.append(element('p', { class: 'refused', 'data-testid': 'refused' }, config.message ?? `HTTP ${response.status}`))
} else {
  // The platforms this server serves, in the page's order.
  for (const platform of Object.keys(PLATFORMS).filter((name) => config.platforms[name])) {
    phones.append(phonePanel(platform, { ...config.platforms[platform], codeReplayWindow: config.codeReplayWindow }))
  }
}
document.body.dataset.ready = 'true'
