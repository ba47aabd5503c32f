import { test } from 'tap'
import { allowedRedirectsOf, webviewRedirect } from '../../lib/redirects.js'

// Where a web-view ticket may send the browser: a path of this site, or a URL the allow-list allows.

const allowed = allowedRedirectsOf(['https://shop.example.com/account/'], 'web.redirects')

test('paths of this site, as they are', async (t) => {
  for (const path of ['/', '/orders', '/orders?id=1&tab=a#top', '/a/../b', '/%2F%2Fx']) t.equal(webviewRedirect(path, []), path, path)
})

test('an absolute URL only when the allow-list allows it, normalized', async (t) => {
  t.equal(webviewRedirect('https://shop.example.com/account/orders', allowed), 'https://shop.example.com/account/orders')
  t.equal(webviewRedirect('https://SHOP.example.com:443/account/x', allowed), 'https://shop.example.com/account/x')
  t.equal(webviewRedirect('https://shop.example.com/account/orders', []), null, 'no list: paths only')
  t.equal(webviewRedirect('https://shop.example.com/admin', allowed), null)
})

test('refused: other hosts in disguise, relative paths, whitespace and controls, over-long targets', async (t) => {
  for (const target of ['//evil.example/', '/\\evil.example', '\\\\evil.example', 'orders', '', ' /orders', '/a b', '/a\tb', '/a\u0000', 'javascript:alert(1)', `/${'a'.repeat(2048)}`]) {
    t.equal(webviewRedirect(target, allowed), null, JSON.stringify(target.slice(0, 20)))
  }
})
