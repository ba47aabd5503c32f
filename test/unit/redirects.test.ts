import { test } from 'tap'
import { allowedRedirect, allowedRedirectsOf } from '../../lib/redirects.js'

const allowed = allowedRedirectsOf(['https://app.example.com/', 'https://shop.example.com/account', 'http://localhost:3000/'], 'web.redirects')

test('allowed: the origin and path prefix of an entry, normalized', async (t) => {
  t.equal(allowedRedirect('https://app.example.com/', allowed), 'https://app.example.com/')
  t.equal(allowedRedirect('https://app.example.com/orders?id=1#top', allowed), 'https://app.example.com/orders?id=1#top')
  t.equal(allowedRedirect('HTTPS://APP.example.com:443/x', allowed), 'https://app.example.com/x', 'scheme, host and default port normalized')
  t.equal(allowedRedirect('https://shop.example.com/account', allowed), 'https://shop.example.com/account')
  t.equal(allowedRedirect('https://shop.example.com/account/orders', allowed), 'https://shop.example.com/account/orders')
  t.equal(allowedRedirect('http://localhost:3000/dev', allowed), 'http://localhost:3000/dev')
})

test('refused: other origins, schemes, ports, prefixes, and what parsers disagree on', async (t) => {
  for (const target of [
    undefined, 42, '', '/orders', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example',
    'https://evil.example/', 'https://app.example.com.evil.example/', 'https://evil.example/https://app.example.com/',
    'https://app.example.com@evil.example/', 'https://user:pass@app.example.com/', 'https://app.example.com\\@evil.example/',
    'https:app.example.com/', 'https:/app.example.com/', 'http://app.example.com/', 'https://app.example.com:8443/',
    'javascript:alert(1)', 'JaVaScRiPt://app.example.com/%0aalert(1)', 'data:text/html,hi', ' https://app.example.com/',
    'https://app.example.com/\nLocation: https://evil.example/', 'https://app.example.com/\t/x',
    'https://shop.example.com/accountant', 'https://shop.example.com/', 'https://shop.example.com/account/../admin',
    'https://shop.example.com/account/%2e%2e/admin', 'http://localhost:3001/', 'https://localhost:3000/',
    'https://app.example.com/' + 'a'.repeat(2048)
  ]) {
    t.equal(allowedRedirect(target, allowed), null, JSON.stringify(target))
  }
})

test('the allow-list itself', async (t) => {
  t.same(allowedRedirectsOf([], 'web.redirects'), [], 'empty: nothing allowed')
  t.same(allowedRedirectsOf(['https://a.example'], 'x'), [{ origin: 'https://a.example', path: '/' }], 'an origin allows every path')
  t.throws(() => allowedRedirectsOf(['ftp://a.example/'], 'web.redirects'), /^web\.redirects\[0\] must be an absolute/)
  t.throws(() => allowedRedirectsOf(['https://a.example/#x'], 'web.redirects'), /web\.redirects\[0\]/)
  t.throws(() => allowedRedirectsOf(['https://a.example/?'], 'web.redirects'), /web\.redirects\[0\]/, 'an empty query too')
})
