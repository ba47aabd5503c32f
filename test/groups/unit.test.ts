import { runTestsOf } from '../helpers/test-group.js'

await runTestsOf('unit')
