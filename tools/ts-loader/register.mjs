// `node --import ./tools/ts-loader/register.mjs file.ts`: see hooks.mjs.
import { register } from 'node:module'

register('./hooks.mjs', import.meta.url)
