import { runTestsOf } from '../helpers/test-group.js'

await runTestsOf('sandbox')
