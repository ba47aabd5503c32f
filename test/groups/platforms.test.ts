import { runTestsOf } from '../helpers/test-group.js'

await runTestsOf('wechat', 'qq', 'douyin', 'wecom', 'kuaishou', 'baidu')
