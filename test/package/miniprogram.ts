import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { WxApi } from '../../client/index.js'
import type { WechatWorld } from '../helpers/wechat.js'

// What the package tests of the client share: its modules as a mini-program
// package folder holds them, and a `wx` that logs in through a sandbox.

/** Every JavaScript file under a folder, by its path there ('index.js', 'adapters/wechat.js'). */
export function modulesIn (folder: string): Record<string, string> {
  const files = readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'))
  return Object.fromEntries(files.map((file) => [file, readFileSync(join(folder, file), 'utf8')]))
}

/** A `wx` for one user: wx.login in the sandbox, wx.request over real HTTP, storage in memory. */
export function miniprogramWx (world: WechatWorld, openId: string): WxApi {
  const storage = new Map<string, string>()
  return {
    login: ({ success }) => { success({ code: world.sandbox.issueCode({ openId }) }) },
    request: ({ url, method, data, header, success, fail }) => {
      fetch(url, { method, headers: header, body: data })
        .then(async (response) => success({ statusCode: response.status, data: await response.text() }), fail)
    },
    getStorageSync: (key) => storage.get(key) ?? '',
    setStorageSync: (key, data) => { storage.set(key, data) },
    removeStorageSync: (key) => { storage.delete(key) }
  }
}
