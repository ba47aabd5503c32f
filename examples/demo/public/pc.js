// The "PC website" pane: a browser page that logs in by scan login. It asks
// for a ticket (its code is a mini-program code; the sandbox draws a QR code
// of the scene instead of WeChat's round one), follows it by Server-Sent
// Events, and once the phone confirms, claims its own session: an HttpOnly
// cookie the page never sees, which authenticates its next requests.

const pane = document.querySelector('#pc')
const status = pane.querySelector('[data-testid="pc-status"]')
const login = pane.querySelector('[data-testid="pc-login"]')
const logout = pane.querySelector('[data-testid="pc-logout"]')
const figure = pane.querySelector('figure')
const qr = pane.querySelector('[data-testid="qr"]')
const log = pane.querySelector('[data-testid="pc-log"]')

function note (text) {
  const entry = document.createElement('li')
  entry.textContent = text
  log.prepend(entry)
}

function show (text, loggedIn = false) {
  status.textContent = text
  status.classList.toggle('in', loggedIn)
  login.hidden = loggedIn
  logout.hidden = !loggedIn
}

/** The session the cookie carries, if any: GET /auth/session authenticates by the cookie. */
async function refresh () {
  const reply = await fetch('/auth/session')
  if (reply.ok) {
    const { user, session } = await reply.json()
    show(`Logged in as ${user.id} (${session.provider}, this browser's own session)`, true)
  } else {
    show('Not logged in')
  }
}

let stream = null

login.addEventListener('click', async () => {
  stream?.close()
  const reply = await fetch('/auth/scan/tickets', { method: 'POST' })
  const ticket = await reply.json()
  if (!reply.ok) {
    note(`${reply.status} ${ticket.code}: ${ticket.message}`)
    return
  }
  qr.src = ticket.code
  figure.hidden = false
  note(`POST /auth/scan/tickets: ticket ${ticket.id.slice(0, 6)}…, valid until ${new Date(ticket.expiresAt).toLocaleTimeString()}`)
  show('Waiting for the phone to scan the code')
  stream = new window.EventSource(ticket.events)
  stream.onmessage = async (event) => {
    const { state } = JSON.parse(event.data)
    note(`event: ${state}`)
    if (state === 'scanned') show('Scanned: confirm on the phone')
    if (state === 'refused') show('Refused on the phone')
    if (state === 'expired') show('The code expired: ask for a new one')
    if (state !== 'confirmed') return
    stream.close()
    figure.hidden = true
    const claimed = await fetch(ticket.session, { method: 'POST' })
    const body = await claimed.json()
    note(`POST …/session: ${claimed.status}${claimed.ok ? ', the session cookie is set (HttpOnly: this page cannot read it)' : ` ${body.code}`}`)
    await refresh()
  }
  // The stream ends after the last state: the browser would reconnect, which is not wanted.
  stream.onerror = () => stream.close()
})

logout.addEventListener('click', async () => {
  const reply = await fetch('/auth/web/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  note(`POST /auth/web/logout: ${reply.status}`)
  await refresh()
})

await refresh()
pane.dataset.ready = 'true'
